/** Every algorithm this service verifies. Which one a token may use comes from its stored key. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'ES256'] as const;
export type Algorithm = (typeof ACCEPTED_ALGORITHMS)[number];

export type KeyFamily = 'rsa' | 'ec-p256';

export const ALGORITHMS_BY_FAMILY: Record<KeyFamily, readonly Algorithm[]> = {
  rsa: ['RS256', 'RS384'],
  'ec-p256': ['ES256'],
};

export const HASH_BY_ALGORITHM: Record<Algorithm, 'sha256' | 'sha384'> = {
  RS256: 'sha256',
  RS384: 'sha384',
  ES256: 'sha256',
};

export function isAcceptedAlgorithm(value: string): value is Algorithm {
  return (ACCEPTED_ALGORITHMS as readonly string[]).includes(value);
}
