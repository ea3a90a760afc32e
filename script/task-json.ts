// Writes extension/RunpackDeploy/task.json from the INPUTS table (part of `npm run build`; check-dist keeps it true).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTaskJson, TASK_FOLDER } from '../src/azdo/task-manifest.js';

writeFileSync(join(TASK_FOLDER, 'task.json'), JSON.stringify(renderTaskJson(), null, 2) + '\n');
