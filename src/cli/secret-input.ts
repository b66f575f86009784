import { createInterface } from 'node:readline';
import { CliError } from './output.ts';

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

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Echo nothing but the prompt itself while the secret is typed.
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.startsWith(prompt)) write.call(rl, prompt);
    };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      answer === '' ? reject(new CliError('missing_input', 'Nothing was entered.')) : resolve(answer);
    });
  });
}
