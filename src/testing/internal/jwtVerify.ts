/**
 * Checking JWT assertions in the embedded `AuthServer` (RFC 7523 §3): the keys that verify them, the
 * `jti`s seen, and `verify`, which every assertion goes through (client assertions, JWT-bearer grants).
 *
 * A known key, an allowed `alg` (never `none`), the signature, `iss` (and `sub`), `aud` the token URL or
 * the issuer, `exp` in the future, `exp - iat` at most 1 hour, `iat` not in the future (30 seconds of skew
 * allowed), and a `jti` never seen before (until its `exp`). Time is the `Clock` the server's requests
 * run with. A refusal says what was wrong.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import type * as AuthServer from "../AuthServer.js"

/** The longest an assertion may live, `exp - iat` (Disruptive Technologies: 1 hour). */
const defaultMaxLifetimeSeconds = 3600

/** How far in the future `iat` (and `nbf`) may be, for clocks that are a little ahead. */
const skewSeconds = 30

// -----------------------------------------------------------------------------
// keys
// -----------------------------------------------------------------------------

/**
 * A key that verifies assertions, and the algorithms it may be used with.
 *
 * @internal
 */
export interface VerifyKey {
  readonly key: Jose.KeyInput
  readonly algorithms: ReadonlyArray<string>
}

const hmacAlgorithms = ["HS256", "HS384", "HS512"] as const

const algorithmsOf = (key: crypto.KeyObject): ReadonlyArray<string> => {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"]
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve
      return curve === "prime256v1" ? ["ES256"] : curve === "secp384r1" ? ["ES384"] : curve === "secp521r1"
        ? ["ES512"]
        : []
    }
    case "ed25519":
      return ["EdDSA"]
    default:
      return []
  }
}

const isCryptoKey = (key: unknown): key is Jose.CryptoKey =>
  typeof key === "object" && key !== null && Object.prototype.toString.call(key) === "[object CryptoKey]"

/** A public key as a Node `KeyObject` (a private key given by mistake yields its public half). */
const publicKeyObject = (key: AuthServer.PublicKey): crypto.KeyObject => {
  if (typeof key === "string") return crypto.createPublicKey({ key, format: "pem" })
  if (key instanceof crypto.KeyObject) return key.type === "public" ? key : crypto.createPublicKey(key)
  if (isCryptoKey(key)) {
    const object = crypto.KeyObject.from(key as unknown as Parameters<typeof crypto.KeyObject.from>[0])
    return object.type === "public" ? object : crypto.createPublicKey(object)
  }
  return crypto.createPublicKey({ key: key as crypto.JsonWebKey, format: "jwk" })
}

/**
 * The verification key of a registration: its secret (HMAC) or its public key. Throws (a defect in the
 * test that registered it) when the key cannot be read or fits no algorithm.
 *
 * @internal
 */
export const verifyKey = (
  what: string,
  registration: {
    readonly secret?: string | undefined
    readonly publicKey?: AuthServer.PublicKey | undefined
    readonly alg?: string | undefined
  }
): VerifyKey => {
  if (registration.publicKey !== undefined) {
    let key: crypto.KeyObject
    try {
      key = publicKeyObject(registration.publicKey)
    } catch {
      throw new Error(`AuthServer: the public key of ${what} cannot be read (SPKI PEM, JWK, CryptoKey or KeyObject)`)
    }
    const algorithms = algorithmsOf(key)
    if (registration.alg !== undefined && !algorithms.includes(registration.alg)) {
      throw new Error(`AuthServer: the public key of ${what} cannot verify ${registration.alg}`)
    }
    if (algorithms.length === 0) throw new Error(`AuthServer: the public key of ${what} fits no JWS algorithm`)
    return { key, algorithms: registration.alg === undefined ? algorithms : [registration.alg] }
  }
  if (registration.secret !== undefined) {
    if (registration.alg !== undefined && !(hmacAlgorithms as ReadonlyArray<string>).includes(registration.alg)) {
      throw new Error(`AuthServer: ${what} has a secret, which cannot verify ${registration.alg}`)
    }
    const bytes = new TextEncoder().encode(registration.secret)
    return {
      // HMAC pads keys with zeros: the empty key and the one-byte key 0x00 are the same key
      key: bytes.length === 0 ? new Uint8Array(1) : bytes,
      algorithms: registration.alg === undefined ? hmacAlgorithms : [registration.alg]
    }
  }
  throw new Error(`AuthServer: ${what} needs a secret or a public key`)
}

// -----------------------------------------------------------------------------
// checking an assertion
// -----------------------------------------------------------------------------

/**
 * The `jti`s seen, each kept until its assertion expires.
 *
 * @internal
 */
export interface JtiStore {
  /** `true` the first time a `jti` is used (and records it), `false` when it was seen before. */
  readonly use: (jti: string, expiresAtMillis: number, nowMillis: number) => boolean
}

/** @internal */
export const makeJtiStore = (): JtiStore => {
  const seen = new Map<string, number>()
  return {
    use: (jti, expiresAtMillis, nowMillis) => {
      if (seen.size > 1000) { for (const [id, until] of seen) if (until < nowMillis) seen.delete(id) }
      const until = seen.get(jti)
      if (until !== undefined && until >= nowMillis) return false
      seen.set(jti, Math.max(expiresAtMillis, nowMillis) + skewSeconds * 1000)
      return true
    }
  }
}

/**
 * What an assertion must say.
 *
 * @internal
 */
export interface Expectation {
  readonly key: VerifyKey
  readonly issuer: string
  /**
   * `sub` must equal this when present, or (with `subjectRequired`) be present and equal it; `undefined`:
   * any `sub` (a subject token's: whose token it is).
   */
  readonly subject: string | undefined
  readonly subjectRequired: boolean
  /** `aud` (a string or a list) must name one of these. */
  readonly audiences: ReadonlyArray<string>
  readonly jtiRequired: boolean
  /** Where `jti`s are recorded, so that an assertion is used once; `undefined`: tokens used many times. */
  readonly jtis: JtiStore | undefined
  /** The longest `exp - iat` allowed, in seconds. Default: 1 hour (assertions). */
  readonly maxLifetimeSeconds?: number | undefined
}

/** The parts of an assertion the checks read. */
interface Claims {
  readonly iss?: unknown
  readonly sub?: unknown
  readonly aud?: unknown
  readonly exp?: unknown
  readonly iat?: unknown
  readonly nbf?: unknown
  readonly jti?: unknown
  readonly scope?: unknown
}

/**
 * The protected header of an assertion, unverified; `undefined` when it is not a JWS.
 *
 * @internal
 */
export const header = (assertion: string): Jose.ProtectedHeaderParameters | undefined => {
  try {
    return Jose.decodeProtectedHeader(assertion)
  } catch {
    return undefined
  }
}

/**
 * The claims of an assertion, unverified; `undefined` when they cannot be read.
 *
 * @internal
 */
export const unverifiedClaims = (assertion: string): Claims | undefined => {
  try {
    return Jose.decodeJwt(assertion)
  } catch {
    return undefined
  }
}

const isNumber = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

/**
 * Checks an assertion; fails with a description of what was wrong. The signature is checked before any
 * claim, and the `jti` recorded last, so a forged or refused assertion never uses up a `jti`.
 *
 * @internal
 */
export const verify = (assertion: string, expect: Expectation): Effect.Effect<Claims, string> =>
  Effect.gen(function*() {
    const protectedHeader = header(assertion)
    if (protectedHeader === undefined) return yield* Effect.fail("the assertion is not a JWT")
    const alg = protectedHeader.alg
    if (alg === undefined || alg === "none") return yield* Effect.fail("the assertion is not signed (alg none)")
    if (!expect.key.algorithms.includes(alg)) {
      return yield* Effect.fail(`alg ${alg} is not allowed for this key (allowed: ${expect.key.algorithms.join(", ")})`)
    }
    const verified = yield* Effect.either(
      Effect.tryPromise(() => Jose.compactVerify(assertion, expect.key.key, { algorithms: [alg] }))
    )
    if (Either.isLeft(verified)) return yield* Effect.fail("the signature does not verify")
    const claims = ((): Claims | undefined => {
      try {
        const parsed: unknown = JSON.parse(new TextDecoder().decode(verified.right.payload))
        return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed as Claims : undefined
      } catch {
        return undefined
      }
    })()
    if (claims === undefined) return yield* Effect.fail("the assertion's claims are not a JSON object")

    if (claims.iss !== expect.issuer) {
      return yield* Effect.fail(`iss ${JSON.stringify(claims.iss ?? null)} is not ${expect.issuer}`)
    }
    if (
      expect.subject === undefined
        ? claims.sub !== undefined && typeof claims.sub !== "string"
        : claims.sub === undefined
        ? expect.subjectRequired
        : claims.sub !== expect.subject
    ) {
      return yield* Effect.fail(`sub ${JSON.stringify(claims.sub ?? null)} is not ${expect.subject ?? "a string"}`)
    }
    const audiences = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : []
    if (!audiences.some((aud) => expect.audiences.includes(aud))) {
      return yield* Effect.fail(
        `aud ${JSON.stringify(claims.aud ?? null)} does not name this server (${expect.audiences.join(" or ")})`
      )
    }
    const maxLifetimeSeconds = expect.maxLifetimeSeconds ?? defaultMaxLifetimeSeconds
    const now = yield* Clock.currentTimeMillis
    const nowSeconds = now / 1000
    if (!isNumber(claims.exp)) return yield* Effect.fail("exp is missing")
    if (claims.exp <= nowSeconds) {
      return yield* Effect.fail(`the assertion expired ${Math.ceil(nowSeconds - claims.exp)} s ago (exp)`)
    }
    if (claims.iat !== undefined) {
      if (!isNumber(claims.iat)) return yield* Effect.fail("iat is not a number")
      if (claims.iat > nowSeconds + skewSeconds) return yield* Effect.fail("iat is in the future")
      if (claims.exp - claims.iat > maxLifetimeSeconds) {
        return yield* Effect.fail(
          `the assertion lives ${claims.exp - claims.iat} s (exp - iat), more than ${maxLifetimeSeconds} s`
        )
      }
    } else if (claims.exp - nowSeconds > maxLifetimeSeconds + skewSeconds) {
      return yield* Effect.fail(`exp is more than ${maxLifetimeSeconds} s away`)
    }
    if (claims.nbf !== undefined && (!isNumber(claims.nbf) || claims.nbf > nowSeconds + skewSeconds)) {
      return yield* Effect.fail("the assertion is not valid yet (nbf)")
    }
    if (claims.jti === undefined) {
      if (expect.jtiRequired) return yield* Effect.fail("jti is missing")
    } else if (typeof claims.jti !== "string" || claims.jti === "") {
      return yield* Effect.fail("jti is not a string")
    } else if (
      expect.jtis !== undefined && !expect.jtis.use(`${expect.issuer}\u0000${claims.jti}`, claims.exp * 1000, now)
    ) {
      return yield* Effect.fail("the assertion was used before (jti seen)")
    }
    return claims
  })
