/**
 * DPoP (RFC 9449): the key, the proofs and the server nonces. The Tag lives here so that the funnel
 * (`endpoint.ts`, `tokenEndpoint.ts`) and `TokenHttpClient` can read it without importing `DPoP.ts`.
 *
 * Proofs are signed with node:crypto, synchronously: the protected header is encoded once per key,
 * `iat` comes from Effect's `Clock`, `jti` is 128 random bits. The private key lives in a closure,
 * never in a property: nothing that prints the service can show it.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Jose from "jose"
import * as crypto from "node:crypto"
import { KeyError } from "../TokenError.js"
import * as Jwt from "./jwt.js"

/** @internal */
export type Algorithm =
  | "ES256"
  | "ES384"
  | "ES512"
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "EdDSA"

/** @internal */
export const algorithms: ReadonlyArray<Algorithm> = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA"
]

/**
 * A private key: a `Redacted` PEM (PKCS#8, PKCS#1, SEC1) or private JWK, a `CryptoKey`, a `KeyObject`.
 *
 * @internal
 */
export type PrivateKey =
  | Redacted.Redacted<string>
  | Redacted.Redacted<crypto.JsonWebKey>
  | Jose.CryptoKey
  | crypto.KeyObject

/** @internal */
export interface ProofRequest {
  readonly method: string
  readonly url: string
  /** The access token the request carries: the proof gets its `ath`. */
  readonly accessToken?: Redacted.Redacted<string> | undefined
}

/** @internal */
export interface Service {
  readonly alg: Algorithm
  /** The public key as sent in every proof's `jwk` header. */
  readonly publicJwk: Readonly<Record<string, string>>
  /** RFC 7638 SHA-256 thumbprint of the public key: the `cnf.jkt` of the tokens bound to it. */
  readonly thumbprint: string
  /** Refuse a Bearer token from a token endpoint asked for a DPoP token. */
  readonly requireBinding: boolean
  /** A new proof for one request (RFC 9449 §4.2), with the nonce last given by the URL's origin. */
  readonly proof: (request: ProofRequest) => Effect.Effect<string>
  /** The nonce last given by the URL's origin. */
  readonly nonce: (url: string) => string | undefined
  /** Keeps the `DPoP-Nonce` of a response from `url`, when it has a valid one; whether it did. */
  readonly updateNonce: (url: string, header: string | null | undefined) => boolean
}

/** @internal */
export class DPoP extends Context.Tag("tokenlayer/DPoP")<DPoP, Service>() {}

/** The longest nonce kept: RFC 9449 sets none; a server's header must not fill every proof. */
export const maxNonceLength = 1024

/** RFC 9449 §8.1: `nonce = 1*NQCHAR`, NQCHAR = %x21 / %x23-5B / %x5D-7E. */
const nonceChars = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** @internal */
export const validNonce = (value: string): boolean => value.length <= maxNonceLength && nonceChars.test(value)

const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

/**
 * `htu`: the request's URL without query, fragment or user info (RFC 9449 §4.2).
 *
 * @internal
 */
export const htu = (url: string): string => {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}

/** @internal */
export const ath = (accessToken: string): string =>
  crypto.createHash("sha256").update(accessToken, "ascii").digest("base64url")

const hashes: Readonly<Record<string, string>> = { "256": "sha256", "384": "sha384", "512": "sha512" }
const curves: Readonly<Record<string, string>> = { ES256: "prime256v1", ES384: "secp384r1", ES512: "secp521r1" }

/** Why `key` cannot sign `alg`, or `undefined` when it can. */
const fitProblem = (key: crypto.KeyObject, alg: Algorithm): string | undefined => {
  const type = key.asymmetricKeyType
  if (alg.startsWith("ES")) {
    if (type !== "ec") return `${alg} needs an EC key, not ${type ?? "this key"}`
    const curve = key.asymmetricKeyDetails?.namedCurve
    return curve === curves[alg] ? undefined : `${alg} needs the curve ${curves[alg]}, not ${curve ?? "unknown"}`
  }
  if (alg.startsWith("RS") || alg.startsWith("PS")) {
    if (type !== "rsa" && !(type === "rsa-pss" && alg.startsWith("PS"))) {
      return `${alg} needs an RSA key, not ${type ?? "this key"}`
    }
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    return bits >= 2048 ? undefined : `RSA keys must have at least 2048 bits, not ${bits}`
  }
  return type === "ed25519" || type === "ed448" ? undefined : `EdDSA needs an Ed25519 key, not ${type ?? "this key"}`
}

const inferAlgorithm = (key: crypto.KeyObject): Algorithm | undefined => {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve
      return curve === "prime256v1"
        ? "ES256"
        : curve === "secp384r1"
        ? "ES384"
        : curve === "secp521r1"
        ? "ES512"
        : undefined
    }
    case "rsa":
      return "RS256"
    case "rsa-pss":
      return "PS256"
    case "ed25519":
    case "ed448":
      return "EdDSA"
    default:
      return undefined
  }
}

/**
 * Reads a private key, or says why it cannot (never quoting it): the JWT module's reader, with JWK text
 * taken as a JWK, and a `CryptoKey` made a `KeyObject`.
 */
const readKey = (key: PrivateKey): crypto.KeyObject | string => {
  if (Redacted.isRedacted(key)) {
    const value: unknown = Redacted.value(key as Redacted.Redacted<unknown>)
    if (typeof value === "string" && value.trim().startsWith("{")) {
      let jwk: crypto.JsonWebKey
      try {
        jwk = JSON.parse(value.trim()) as crypto.JsonWebKey
      } catch {
        return "not a PEM private key nor a JWK (the JSON could not be read)"
      }
      return readKey(Redacted.make(jwk))
    }
  }
  const read = Jwt.readPrivateKey(key as Jwt.PrivateKey, "DPoP needs an asymmetric key")
  if (typeof read === "string" || read instanceof crypto.KeyObject) return read
  try {
    return crypto.KeyObject.from(read as Parameters<typeof crypto.KeyObject.from>[0])
  } catch {
    return "the CryptoKey could not be used"
  }
}

/** A new key pair for `alg`. */
const generate = (alg: Algorithm): crypto.KeyObject => {
  if (alg.startsWith("ES")) return crypto.generateKeyPairSync("ec", { namedCurve: curves[alg]! }).privateKey
  if (alg === "EdDSA") return crypto.generateKeyPairSync("ed25519").privateKey
  return crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
}

const signer = (key: crypto.KeyObject, alg: Algorithm): (data: Buffer) => Buffer => {
  if (alg === "EdDSA") return (data) => crypto.sign(null, data, key)
  const hash = hashes[alg.slice(2)]!
  if (alg.startsWith("ES")) return (data) => crypto.sign(hash, data, { key, dsaEncoding: "ieee-p1363" })
  if (alg.startsWith("PS")) {
    return (data) =>
      crypto.sign(hash, data, {
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8
      })
  }
  return (data) => crypto.sign(hash, data, key)
}

/** The public members of a key's JWK, as RFC 7638 lists them per key type (no private member ever). */
const publicMembers: Readonly<Record<string, ReadonlyArray<string>>> = {
  EC: ["crv", "kty", "x", "y"],
  RSA: ["e", "kty", "n"],
  OKP: ["crv", "kty", "x"]
}

/** RFC 7638 thumbprint (SHA-256, base64url) of a public JWK. @internal */
export const thumbprint = (jwk: Readonly<Record<string, unknown>>): string => {
  const members = publicMembers[String(jwk.kty)] ?? []
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(",")}}`
  return crypto.createHash("sha256").update(canonical).digest("base64url")
}

/** @internal */
export interface Options {
  readonly key?: PrivateKey | undefined
  readonly alg?: Algorithm | undefined
  readonly requireBinding?: boolean | undefined
  readonly maxNonceOrigins?: number | undefined
}

const keyError = (alg: string | undefined, reason: string) =>
  new KeyError({ purpose: "dpop", ...(alg === undefined ? {} : { alg }), reason })

/**
 * The service over the given key (read and checked, one trial proof signed) or a new one.
 *
 * @internal
 */
export const make = (options: Options = {}): Effect.Effect<Service, KeyError> =>
  Effect.suspend(() => {
    if (options.alg !== undefined && !algorithms.includes(options.alg)) {
      return Effect.fail(keyError(String(options.alg), `not a DPoP algorithm (one of ${algorithms.join(", ")})`))
    }
    let key: crypto.KeyObject
    let alg: Algorithm
    if (options.key === undefined) {
      alg = options.alg ?? "ES256"
      key = generate(alg)
    } else {
      const read = readKey(options.key)
      if (typeof read === "string") return Effect.fail(keyError(options.alg, read))
      const inferred = options.alg ?? inferAlgorithm(read)
      if (inferred === undefined) {
        return Effect.fail(keyError(undefined, "cannot tell the algorithm from the key: give alg (ES256, ...)"))
      }
      const problem = fitProblem(read, inferred)
      if (problem !== undefined) return Effect.fail(keyError(inferred, problem))
      alg = inferred
      key = read
    }
    const full = crypto.createPublicKey(key).export({ format: "jwk" }) as Record<string, string>
    const publicJwk: Record<string, string> = {}
    for (const member of publicMembers[full.kty ?? ""] ?? []) publicJwk[member] = full[member]!
    const header = Buffer.from(JSON.stringify({ typ: "dpop+jwt", alg, jwk: publicJwk })).toString("base64url")
    const sign = signer(key, alg)
    const maxOrigins = Math.max(1, options.maxNonceOrigins ?? 100)
    // nonces by origin, least recently used first
    const nonces = new Map<string, string>()

    const nonce = (url: string): string | undefined => {
      const origin = originOf(url)
      if (origin === undefined) return undefined
      const value = nonces.get(origin)
      if (value !== undefined) {
        nonces.delete(origin)
        nonces.set(origin, value)
      }
      return value
    }
    const signProof = (request: ProofRequest, now: number): string => {
      const claims: Record<string, unknown> = {
        jti: crypto.randomBytes(16).toString("base64url"),
        htm: request.method.toUpperCase(),
        htu: htu(request.url),
        iat: Math.floor(now / 1000)
      }
      const n = nonce(request.url)
      if (n !== undefined) claims.nonce = n
      if (request.accessToken !== undefined) claims.ath = ath(Redacted.value(request.accessToken))
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`
      return `${input}.${sign(Buffer.from(input)).toString("base64url")}`
    }
    try {
      // the trial proof: a key that cannot sign is refused here, not at a request
      signProof({ method: "POST", url: "https://trial.invalid/" }, 0)
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 120) : "unknown"
      return Effect.fail(keyError(alg, `the key cannot sign: ${message}`))
    }
    const service: Service & { toJSON(): unknown } = {
      alg,
      publicJwk,
      thumbprint: thumbprint(publicJwk),
      requireBinding: options.requireBinding === true,
      proof: (request) => Effect.map(Clock.currentTimeMillis, (now) => signProof(request, now)),
      nonce,
      updateNonce: (url, value) => {
        const origin = originOf(url)
        if (origin === undefined || value === undefined || value === null || !validNonce(value)) return false
        nonces.delete(origin)
        if (nonces.size >= maxOrigins) nonces.delete(nonces.keys().next().value!)
        nonces.set(origin, value)
        return true
      },
      toJSON: () => ({ _id: "DPoP", alg, thumbprint: thumbprint(publicJwk) })
    }
    Object.defineProperty(service, Symbol.for("nodejs.util.inspect.custom"), { value: () => service.toJSON() })
    return Effect.succeed(service)
  })

/**
 * A private key as a `Redacted` JWK (with `alg`), for a store that keeps a fleet's key.
 *
 * @internal
 */
export const generateJwk = (alg: Algorithm): Redacted.Redacted<crypto.JsonWebKey> =>
  Redacted.make(generate(alg).export({ format: "jwk" }))
