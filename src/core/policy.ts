/** What a deployment decides about tokens; the defaults are DESIGN.md's. */
export interface VerificationPolicy {
  /** Accepted `aud` values; the first is this region's own host. */
  audiences: readonly string[];
  leewaySeconds: number;
  maxLifetimeSeconds: number;
}

export const DEFAULT_POLICY: VerificationPolicy = {
  audiences: ['api.happypathology.com'],
  leewaySeconds: 60,
  maxLifetimeSeconds: 3600,
};
