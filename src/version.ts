/** runpack's version: the package's (a test keeps it equal to package.json's), in User-Agent, releases and the task. */
export const RUNPACK_VERSION = '0.1.0';
