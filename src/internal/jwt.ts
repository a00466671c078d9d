/**
 * JWT assertions (RFC 7523) signed with jose: the signing keys of the JWT bearer grant and of the
 * `client_secret_jwt` / `private_key_jwt` client authentication methods.
 *
 * A `Signer` is made once, when the grant or method is built: an HMAC secret is used as it is, a private
 * key is read (PEM, JWK, `KeyObject` or `CryptoKey`), its algorithm inferred or checked, and one trial
 * assertion signed, so that a key that cannot sign is a `KeyError` then and not at a token request.
 * Assertions take their `iat` and `exp` from Effect's `Clock` (jose would read `Date.now()`), and a new
 * one is signed for every token request.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import { KeyError } from "../TokenError.js"

/** @internal */
export type HmacAlgorithm = "HS256" | "HS384" | "HS512"

/** @internal */
export type AsymmetricAlgorithm =
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "ES256"
  | "ES384"
  | "ES512"
  | "EdDSA"

/**
 * A private key: a PEM string (PKCS#8 `BEGIN PRIVATE KEY`, or PKCS#1 / SEC1) or a JWK, both `Redacted`
 * since they are secrets, or a key object that does not print its material (a WebCrypto / jose
 * `CryptoKey`, a Node `KeyObject`).
 *
 * @internal
 */
export type PrivateKey =
  | Redacted.Redacted<string>
  | Redacted.Redacted<Jose.JWK>
  | Jose.CryptoKey
  | Jose.KeyObject

/** What a key signs for; the `purpose` of a `KeyError`. @internal */
export type Purpose = "jwt-bearer" | "client_secret_jwt" | "private_key_jwt"

/**
 * Signs assertions with one key and one algorithm.
 *
 * @internal
 */
export interface Signer {
  readonly alg: HmacAlgorithm | AsymmetricAlgorithm
  readonly sign: (keyId: string | undefined, claims: Claims) => Effect.Effect<Redacted.Redacted<string>, KeyError>
}

/**
 * The claims of one assertion, `iat` and `exp` in whole seconds since the epoch.
 *
 * @internal
 */
export interface Claims {
  readonly iss: string
  readonly sub?: string | undefined
  readonly aud: string | ReadonlyArray<string>
  readonly iat: number
  readonly exp: number
  readonly jti?: string | undefined
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

const signWith = (
  purpose: Purpose,
  alg: string,
  key: Jose.KeyInput,
  keyId: string | undefined,
  claims: Claims
): Effect.Effect<Redacted.Redacted<string>, KeyError> =>
  Effect.tryPromise({
    try: () => {
      let jwt = new Jose.SignJWT({ ...claims.extra })
        .setProtectedHeader(keyId === undefined ? { alg, typ: "JWT" } : { alg, typ: "JWT", kid: keyId })
        .setIssuer(claims.iss)
        .setAudience(typeof claims.aud === "string" ? claims.aud : [...claims.aud])
        // explicit seconds: without an argument jose would read Date.now(), not the Clock
        .setIssuedAt(claims.iat)
        .setExpirationTime(claims.exp)
      if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub)
      if (claims.jti !== undefined) jwt = jwt.setJti(claims.jti)
      return jwt.sign(key)
    },
    catch: (error) => new KeyError({ purpose, alg, reason: describeJoseError(error) })
  }).pipe(Effect.map(Redacted.make))

/** jose's messages name types and algorithms, never key material; keep them short anyway. */
const describeJoseError = (error: unknown): string => {
  const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : ""
  return message === "" ? "the key was refused" : `the key was refused: ${message.slice(0, 160)}`
}

/**
 * An HMAC signer (HS256 by default) over a shared secret, as UTF-8 bytes. Never fails to sign: HMAC
 * takes a key of any length, and an empty secret is signed as the one-byte key `0x00`, which HMAC pads
 * to the same block as the empty key (WebCrypto refuses zero-length keys).
 *
 * @internal
 */
export const hmacSigner = (
  purpose: Purpose,
  secret: Redacted.Redacted<string>,
  alg: HmacAlgorithm = "HS256"
): Signer => ({
  alg,
  sign: (keyId, claims) =>
    Effect.suspend(() => {
      const bytes = new TextEncoder().encode(Redacted.value(secret))
      return signWith(purpose, alg, bytes.length === 0 ? new Uint8Array(1) : bytes, keyId, claims)
    })
})

const curveAlgorithms: Readonly<Record<string, AsymmetricAlgorithm>> = {
  "prime256v1": "ES256",
  "P-256": "ES256",
  "secp384r1": "ES384",
  "P-384": "ES384",
  "secp521r1": "ES512",
  "P-521": "ES512"
}

const hashSuffix = (hash: string | undefined): string | undefined =>
  hash === "SHA-256" ? "256" : hash === "SHA-384" ? "384" : hash === "SHA-512" ? "512" : undefined

/** The algorithm a key is for, when it says (`undefined` for key types jose cannot sign JWTs with). */
const inferAlgorithm = (key: crypto.KeyObject | Jose.CryptoKey): AsymmetricAlgorithm | undefined => {
  if (key instanceof crypto.KeyObject) {
    switch (key.asymmetricKeyType) {
      case "rsa":
        return "RS256"
      case "rsa-pss":
        return "PS256"
      case "ec":
        return curveAlgorithms[key.asymmetricKeyDetails?.namedCurve ?? ""]
      case "ed25519":
        return "EdDSA"
      default:
        return undefined
    }
  }
  const algorithm = key.algorithm as { readonly name: string; readonly namedCurve?: string; readonly hash?: unknown }
  const hash = typeof algorithm.hash === "object" && algorithm.hash !== null && "name" in algorithm.hash
    ? hashSuffix(String(algorithm.hash.name))
    : undefined
  switch (algorithm.name) {
    case "RSASSA-PKCS1-v1_5":
      return hash === undefined ? undefined : `RS${hash}` as AsymmetricAlgorithm
    case "RSA-PSS":
      return hash === undefined ? undefined : `PS${hash}` as AsymmetricAlgorithm
    case "ECDSA":
      return curveAlgorithms[algorithm.namedCurve ?? ""]
    case "Ed25519":
      return "EdDSA"
    default:
      return undefined
  }
}

const isCryptoKey = (key: unknown): key is Jose.CryptoKey =>
  typeof key === "object" && key !== null && Object.prototype.toString.call(key) === "[object CryptoKey]"

/**
 * Reads a private key into a `KeyObject` or `CryptoKey`, or says why it cannot. Never shows the key.
 * `symmetric` is what to say of a symmetric JWK (the signing grants take a secret instead; DPoP cannot).
 *
 * @internal
 */
export const readPrivateKey = (
  key: PrivateKey,
  symmetric = "use a secret (HS256) instead"
): crypto.KeyObject | Jose.CryptoKey | string => {
  if (Redacted.isRedacted(key)) {
    const value: unknown = Redacted.value(key as Redacted.Redacted<unknown>)
    if (typeof value === "string") {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
        return /-----BEGIN [A-Z ]*PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(value)
          ? "a public key or certificate was given where a private key is needed"
          : "not a PEM private key (expected -----BEGIN PRIVATE KEY-----)"
      }
      if (/ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(value)) {
        return "encrypted PEM keys are not supported: decrypt it first"
      }
      try {
        return crypto.createPrivateKey({ key: value, format: "pem" })
      } catch {
        return "the PEM private key could not be read (expected PKCS#8, PKCS#1 or SEC1)"
      }
    }
    if (typeof value === "object" && value !== null) {
      if (!("d" in value)) return "the JWK is a public key: a private JWK (with \"d\") is needed"
      if ((value as Jose.JWK).kty === "oct") return `the JWK is a symmetric key: ${symmetric}`
      try {
        return crypto.createPrivateKey({ key: value as crypto.JsonWebKey, format: "jwk" })
      } catch {
        return "the JWK private key could not be read"
      }
    }
    return "not a PEM string or a JWK"
  }
  if (key instanceof crypto.KeyObject) {
    return key.type === "private" ? key : `a ${key.type} KeyObject was given where a private key is needed`
  }
  if (isCryptoKey(key)) {
    return key.type === "private" ? key : `a ${key.type} CryptoKey was given where a private key is needed`
  }
  return "not a private key (a Redacted PEM or JWK, a CryptoKey or a KeyObject)"
}

/**
 * A signer over a private key. The algorithm is inferred from the key when not given (RSA: RS256,
 * RSA-PSS: PS256, EC P-256/384/521: ES256/384/512, Ed25519: EdDSA) and checked by signing one trial
 * assertion, so that every failure is here, as a `KeyError`.
 *
 * @internal
 */
export const privateKeySigner = (
  purpose: Purpose,
  key: PrivateKey,
  alg?: AsymmetricAlgorithm | undefined
): Effect.Effect<Signer, KeyError> =>
  Effect.gen(function*() {
    const read = yield* Effect.sync(() => readPrivateKey(key))
    if (typeof read === "string") {
      return yield* Effect.fail(new KeyError({ purpose, ...(alg === undefined ? {} : { alg }), reason: read }))
    }
    const algorithm = alg ?? inferAlgorithm(read)
    if (algorithm === undefined) {
      return yield* Effect.fail(
        new KeyError({ purpose, reason: "cannot tell the algorithm from the key: give alg (RS256, ES256, ...)" })
      )
    }
    // the trial assertion: a key that does not fit the algorithm is refused here
    yield* signWith(purpose, algorithm, read, undefined, { iss: "trial", aud: "trial", iat: 0, exp: 1 })
    return {
      alg: algorithm,
      sign: (keyId, claims) => signWith(purpose, algorithm, read, keyId, claims)
    }
  })

/**
 * A lifetime as whole seconds, at least 1; an infinite one is taken as 1 hour.
 *
 * @internal
 */
export const lifetimeSeconds = (lifetime: Duration.DurationInput): number => {
  const seconds = Duration.toSeconds(Duration.decode(lifetime))
  return Number.isFinite(seconds) ? Math.max(1, Math.floor(seconds)) : 3600
}

/**
 * A fresh `jti`: 128 random bits, base64url.
 *
 * @internal
 */
export const randomJti = (): string => crypto.randomBytes(16).toString("base64url")

/**
 * The options of one kind of assertion; `iat`, `exp` and `jti` are made for each assertion.
 *
 * @internal
 */
export interface AssertionOptions {
  readonly keyId?: string | undefined
  readonly issuer: string
  readonly subject?: string | undefined
  readonly audience: string | ReadonlyArray<string>
  /** Whole seconds from `iat` to `exp`. */
  readonly lifetime: number
  /** Whether to add a random `jti`. */
  readonly jti: boolean
  readonly claims?: Readonly<Record<string, unknown>> | undefined
}

/**
 * A new assertion: `iat` is now by the `Clock` (whole seconds), `exp` is `iat + lifetime`, and `jti` a
 * new random value.
 *
 * @internal
 */
export const assertion = (
  signer: Signer,
  options: AssertionOptions
): Effect.Effect<Redacted.Redacted<string>, KeyError> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const iat = Math.floor(now / 1000)
    return signer.sign(options.keyId, {
      iss: options.issuer,
      sub: options.subject,
      aud: options.audience,
      iat,
      exp: iat + options.lifetime,
      jti: options.jti ? randomJti() : undefined,
      extra: options.claims
    })
  })

/**
 * Signs with a signer that has signed before. A signer only exists once its key signed a trial
 * assertion (`privateKeySigner`) or cannot fail (`hmacSigner`), so a failure here is a bug, not a
 * condition a program can handle: it is a defect with the key error as its cause.
 *
 * @internal
 */
export const assertionOrDie = (
  signer: Signer,
  options: AssertionOptions
): Effect.Effect<Redacted.Redacted<string>> => Effect.orDie(assertion(signer, options))
