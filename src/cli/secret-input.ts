import { StringDecoder } from 'node:string_decoder';
import { CliError } from './output.ts';

/** 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C. */
const INTERRUPTED = 130;

/**
 * Reads a secret from stdin: all of it when piped, or one line typed without echo on a
 * terminal. Secrets never come from argv, where other users and shell history can see them.
 */
export async function readSecretInput(what: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (text.trim() === '')
      throw new CliError('missing_input', `No ${what} on standard input.`, {
        hint: `Pipe the ${what} in, for example: ... < ${what}.txt`,
      });
    return text;
  }
  return promptHidden(`${what[0]?.toUpperCase()}${what.slice(1)}: `);
}

type Typed = { done: boolean; secret: string } | { error: CliError };

// Arrow keys, Home, F-keys and the like arrive as escape sequences (CSI, SS3 or ESC + one
// character); none of their bytes is part of the secret.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is exactly what this matches.
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|.)?/gs;

/** Applies keys typed in raw mode to the secret so far; returns once Enter, Ctrl-C or Ctrl-D ends it. */
function applyKeys(secret: string, keys: string): Typed {
  for (const key of keys.replace(ESCAPE_SEQUENCE, '')) {
    if (key === '\r' || key === '\n') {
      if (secret === '') return { error: new CliError('missing_input', 'Nothing was entered.') };
      return { done: true, secret };
    }
    if (key === '\x03')
      return {
        error: new CliError('interrupted', 'Interrupted; nothing was sent.', { exitCode: INTERRUPTED }),
      };
    if (key === '\x04') {
      if (secret === '') return { error: new CliError('missing_input', 'Nothing was entered.') };
    } else if (key === '\x7f' || key === '\b') {
      // One character, not one UTF-16 unit: an emoji is a surrogate pair.
      secret = Array.from(secret).slice(0, -1).join('');
    } else if (key === '\x15') {
      secret = '';
    } else if (key >= ' ') {
      secret += key;
    }
  }
  return { done: false, secret };
}

/**
 * Raw mode: the terminal neither echoes nor edits the line, and Ctrl-C is a key rather than a
 * signal, so the keys are read here and the terminal is put back however the prompt ends.
 */
async function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo is off before the prompt shows, so nothing typed as soon as it appears is echoed.
  stdin.setRawMode(true);
  const decoder = new StringDecoder('utf8');
  let onData: ((chunk: Buffer) => void) | undefined;
  try {
    process.stderr.write(prompt);
    return await new Promise<string>((resolve, reject) => {
      let secret = '';
      onData = (chunk) => {
        const typed = applyKeys(secret, decoder.write(chunk));
        if ('error' in typed) reject(typed.error);
        else if (typed.done) resolve(typed.secret);
        else secret = typed.secret;
      };
      stdin.on('data', onData);
      stdin.resume();
    });
  } finally {
    if (onData) stdin.off('data', onData);
    stdin.pause();
    stdin.setRawMode(false);
    process.stderr.write('\n');
  }
}
