// Process entry point: runs main and exits with its code (the only place that ends the process).
import { crashExitCode, main } from './main.js';

// Exit explicitly: a lingering handle (a socket, a timer in a library) must never keep archive-push running
// while PostgreSQL waits on it. All output is written synchronously, so nothing is lost. No top-level await:
// the CLI is bundled as CommonJS (scripts/bundle.ts).
const argv = process.argv.slice(2);
// Node would exit 1 on a crash, which archive-get uses for "not in the archive" (see crashExitCode).
const crash = (error: unknown): never => process.exit(crashExitCode(argv, error));
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
void main(argv, process.env).then((code) => process.exit(code), crash);
