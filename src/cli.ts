// Process entry point: runs main and exits with its code (the only place that ends the process).
import { main } from './main.js';

// Exit explicitly: a lingering handle (a socket, a timer in a library) must never keep archive-push running
// while PostgreSQL waits on it. All output is written synchronously, so nothing is lost. No top-level await:
// the CLI is bundled as CommonJS (scripts/bundle.ts).
void main(process.argv.slice(2), process.env).then((code) => process.exit(code));
