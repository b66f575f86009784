import type { Role } from '../core/roles.ts';

/** Who a verified token speaks for; the shape /v1/whoami answers with. */
export interface Principal {
  org_id: string;
  sub: string;
  role: Role;
  kid: string;
  method: 'key' | 'session';
  expires_at: string;
}
