// Code that signs a token for one key, in four languages, with the reader's own ids in it. Each
// signs with the private key file the dashboard offers, so it runs as it is once that file is
// next to it.

export interface SnippetIds {
  /** Where this Keygate answers, e.g. https://auth.example.com. */
  origin: string;
  orgId: string;
  keyId: string;
  /** The logged-in user's id: the `sub` a user's own key must sign for. */
  userId: string;
  audience: string;
  role: string;
  family: 'rsa' | 'ec-p256';
  /** Whether the key is the user's own (sub is then fixed) or the organization's. */
  ownKey: boolean;
  lifetimeSeconds: number;
  keyFile: string;
}

export type Language = 'curl' | 'typescript' | 'python' | 'go';

export const LANGUAGES: readonly { id: Language; name: string }[] = [
  { id: 'curl', name: 'curl' },
  { id: 'typescript', name: 'TypeScript' },
  { id: 'python', name: 'Python' },
  { id: 'go', name: 'Go' },
];

const alg = (ids: SnippetIds) => (ids.family === 'rsa' ? 'RS256' : 'ES256');

function subComment(ids: SnippetIds): string {
  return ids.ownKey ? 'your user id: a key of your own signs only for you' : 'a user id of your choice';
}

function curl(ids: SnippetIds): string {
  return `# TOKEN: a token signed with your private key (see the other tabs), e.g.
#   TOKEN=$(node keygate-token.mts)   or   TOKEN=$(python3 keygate_token.py)

# Who Keygate says the token is:
curl -H "Authorization: Bearer $TOKEN" ${ids.origin}/v1/whoami

# Every check Keygate runs on it, with what to change when one fails:
curl -H "Authorization: Bearer $TOKEN" ${ids.origin}/auth/hello
`;
}

function typescript(ids: SnippetIds): string {
  const signOptions = ids.family === 'rsa' ? 'privateKey' : "{ key: privateKey, dsaEncoding: 'ieee-p1363' }";
  return `// keygate-token.mts: node:crypto only, no library. Run: node keygate-token.mts (Node.js 22.18+)
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const ORG_ID = '${ids.orgId}';
const KEY_ID = '${ids.keyId}';
const USER_ID = '${ids.userId}'; // ${subComment(ids)}
const AUDIENCE = '${ids.audience}';

// The private key file the dashboard offered as a download.
const privateKey = createPrivateKey(readFileSync('${ids.keyFile}'));

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function keygateToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: '${alg(ids)}', typ: 'JWT', kid: KEY_ID };
  const payload = {
    jti: randomUUID(),
    iss: ORG_ID,
    sub: USER_ID,
    iat: now,
    exp: now + ${ids.lifetimeSeconds},
    aud: AUDIENCE,
    role: '${ids.role}',
    kid: KEY_ID,
  };
  const input = \`\${encode(header)}.\${encode(payload)}\`;
  ${ids.family === 'rsa' ? '' : '// ES256 is the raw R||S signature (IEEE P1363), not the DER that OpenSSL writes.\n  '}const signature = sign('sha256', Buffer.from(input), ${signOptions});
  return \`\${input}.\${signature.toString('base64url')}\`;
}

console.log(keygateToken());
`;
}

function python(ids: SnippetIds): string {
  return `# keygate_token.py, spec 001's example for this key. Run: python3 keygate_token.py
# Needs PyJWT and cryptography: pip install "PyJWT>=2.8.0" "cryptography>=41.0.0"
import time
import datetime
from cryptography.hazmat.primitives import serialization
import jwt

def main():
    token = generate_auth_token()
    print(token)

def generate_auth_token():
    # Read the private key file the dashboard offered as a download
    with open("${ids.keyFile}", "rb") as key_file:
        private_key_data = key_file.read()

    # Parse the private key
    private_key = serialization.load_pem_private_key(
        private_key_data,
        password=None,
    )

    # Create JWT claims
    issued = datetime.datetime.now(datetime.timezone.utc)
    exp = issued + datetime.timedelta(seconds=${ids.lifetimeSeconds})

    payload = {
        "aud": "${ids.audience}",  # audience
        "exp": exp,  # expiration time
        "iat": issued,  # issued at
        "iss": "${ids.orgId}",  # issuer: your organization id
        "jti": str(time.time_ns()),  # JWT ID (nanoseconds timestamp)
        "sub": "${ids.userId}",  # subject: ${subComment(ids)}
        "kid": "${ids.keyId}",  # key ID (custom claim)
        "role": "${ids.role}",  # role (the key's default when left out)
    }

    # Sign the token with the key's algorithm
    token = jwt.encode(
        payload,
        private_key,
        algorithm="${alg(ids)}",
        headers={"kid": "${ids.keyId}"},
    )

    return token

if __name__ == "__main__":
    main()
`;
}

function goSign(ids: SnippetIds): string {
  if (ids.family === 'rsa') {
    return `	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return "", fmt.Errorf("the key file does not hold an RSA key")
	}
	signature, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}`;
  }
  return `	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return "", fmt.Errorf("the key file does not hold an EC key")
	}
	r, s, err := ecdsa.Sign(rand.Reader, ecKey, digest[:])
	if err != nil {
		return "", err
	}
	// ES256 is the raw R||S signature, each 32 bytes, not ASN.1 DER.
	signature := make([]byte, 64)
	r.FillBytes(signature[:32])
	s.FillBytes(signature[32:])`;
}

function go(ids: SnippetIds): string {
  const imports =
    ids.family === 'rsa'
      ? ['"crypto"', '"crypto/rand"', '"crypto/rsa"']
      : ['"crypto/ecdsa"', '"crypto/rand"'];
  return `// keygate_token.go: the standard library only. Run: go run keygate_token.go
package main

import (
${[...imports, '"crypto/sha256"', '"crypto/x509"', '"encoding/base64"', '"encoding/json"', '"encoding/pem"', '"fmt"', '"log"', '"os"', '"time"'].map((name) => `\t${name}`).join('\n')}
)

const (
	orgID    = "${ids.orgId}"
	keyID    = "${ids.keyId}"
	userID   = "${ids.userId}" // ${subComment(ids)}
	audience = "${ids.audience}"
)

func main() {
	token, err := generateAuthToken()
	if err != nil {
		log.Fatalf("failed to sign the token: %v", err)
	}
	fmt.Println(token)
}

func segment(value any) string {
	data, _ := json.Marshal(value)
	return base64.RawURLEncoding.EncodeToString(data)
}

func generateAuthToken() (string, error) {
	// The private key file the dashboard offered as a download (PKCS#8 PEM).
	data, err := os.ReadFile("${ids.keyFile}")
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("no PEM block in the key file")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", err
	}

	now := time.Now().Unix()
	header := map[string]any{"alg": "${alg(ids)}", "typ": "JWT", "kid": keyID}
	payload := map[string]any{
		"jti":  fmt.Sprintf("%d", time.Now().UnixNano()),
		"iss":  orgID,
		"sub":  userID,
		"iat":  now,
		"exp":  now + ${ids.lifetimeSeconds},
		"aud":  audience,
		"role": "${ids.role}",
		"kid":  keyID,
	}
	input := segment(header) + "." + segment(payload)
	digest := sha256.Sum256([]byte(input))
${goSign(ids)}
	return input + "." + base64.RawURLEncoding.EncodeToString(signature), nil
}
`;
}

export function snippet(language: Language, ids: SnippetIds): string {
  switch (language) {
    case 'curl':
      return curl(ids);
    case 'typescript':
      return typescript(ids);
    case 'python':
      return python(ids);
    case 'go':
      return go(ids);
  }
}
