import { api, type HelloReport } from './api.js';
import { announce, busy, byId, control, fill, h } from './dom.js';
import { onSubmit } from './forms.js';
import { expectations, renderReport } from './report.js';

// Any token, pasted, checked by /auth/hello: it answers 200 whatever the token, never binds its
// jti, and lists every check with what it expected and what to change.

async function debug(form: HTMLFormElement): Promise<void> {
  const token = control(form, 'token', HTMLTextAreaElement).value.trim();
  const button = control(form, 'submit', HTMLButtonElement);
  // In the Authorization header, as a client would send it; never in the URL.
  const report = await busy(button, 'Checking…', () =>
    api<HelloReport>('POST', '/auth/hello', { token: token || null }),
  );
  const result = byId('debug-result', HTMLElement);
  fill(
    result,
    h('h2', { id: 'debug-result-title' }, 'Result'),
    h(
      'div',
      { class: 'expected' },
      h('h3', {}, 'What Keygate expects'),
      h(
        'dl',
        { class: 'pairs' },
        ...expectations(report).flatMap(([term, value]) => [
          h('dt', {}, term),
          h('dd', { class: 'mono' }, value),
        ]),
      ),
    ),
    renderReport(report),
  );
  result.hidden = false;
  result.focus();
  announce(
    report.valid ? 'The token is valid.' : `The token is rejected: ${report.code ?? 'see the checks'}.`,
  );
}

export function wireDebugger(): void {
  onSubmit(byId('debug-form', HTMLFormElement), debug);
}
