import { errors, jwtVerify, SignJWT } from 'jose';

const ALG = 'HS256';
const ISSUER = 'rendermill';
const AUDIENCE = 'rendermill-api';

export interface AccessClaims {
  /** user id */
  sub: string;
  /** session id: checked against the database on every request, so logout takes effect at once */
  sid: string;
  /** tenant the session acts for */
  tid: string;
}

export interface JwtCodec {
  sign(claims: AccessClaims): Promise<string>;
  /** Returns the claims, or null for any invalid token (bad alg, signature, iss, aud, exp). */
  verify(token: string): Promise<AccessClaims | null>;
  readonly ttlSeconds: number;
}

export function createJwtCodec(secret: string, ttlSeconds: number): JwtCodec {
  const key = new TextEncoder().encode(secret);
  return {
    ttlSeconds,
    sign: (c) =>
      new SignJWT({ sid: c.sid, tid: c.tid })
        .setProtectedHeader({ alg: ALG, typ: 'JWT' })
        .setSubject(c.sub)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key),
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALG], // pinned: `none` and asymmetric-confusion tokens are refused
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ['exp', 'iat', 'sub', 'sid', 'tid'],
          clockTolerance: 5,
        });
        if (typeof payload.sid !== 'string' || typeof payload.tid !== 'string' || !payload.sub) return null;
        return { sub: payload.sub, sid: payload.sid, tid: payload.tid };
      } catch (err) {
        if (err instanceof errors.JOSEError || err instanceof TypeError) return null;
        throw err;
      }
    },
  };
}
