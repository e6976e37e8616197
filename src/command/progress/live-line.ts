// One line on a terminal (stderr), rewritten in place with \r and cleared at the end: backup's and restore's live progress.
import { writeConsole } from '../../common/console-write.js';
import { setConsoleOverlay, type ConsoleOverlay } from '../../common/log.js';

/** Erases from the cursor to the end of the line (ANSI EL). */
const ERASE_LINE = '\x1b[K';
const STDERR = 2;

export class LiveLine implements ConsoleOverlay {
  readonly #fd: number;
  readonly #columns: () => number;
  #text = '';
  #shown = false;

  constructor(fd = STDERR, columns: () => number = () => process.stderr.columns) {
    this.#fd = fd;
    this.#columns = columns;
    // Log lines written meanwhile clear it first and draw it again after themselves.
    setConsoleOverlay(this);
  }

  /** Shows `text` in place of what the line showed, cut to the terminal's width (a wrapped line would not be rewritten). */
  show(text: string): void {
    const width = this.#columns();
    this.#text = width > 1 && text.length > width - 1 ? text.slice(0, width - 1) : text;
    this.redraw();
  }

  redraw(): void {
    if (this.#text === '') return;
    this.#write(`\r${this.#text}${ERASE_LINE}`);
    this.#shown = true;
  }

  clear(): void {
    if (!this.#shown) return;
    this.#write(`\r${ERASE_LINE}`);
    this.#shown = false;
  }

  /** Clears the line for good: nothing of it stays on the terminal. */
  close(): void {
    setConsoleOverlay(undefined);
    this.clear();
    this.#text = '';
  }

  #write(text: string): void {
    // A terminal gone (EIO, EPIPE) must not fail the backup or restore: writeConsole gives up silently.
    writeConsole(this.#fd, text);
  }
}
