/**
 * How a client authenticates at the token endpoint (RFC 6749 §2.3).
 *
 * Methods are values, as in oauth4webapi: `ClientAuth.basic(secret)`, `ClientAuth.post(secret)`,
 * `ClientAuth.none`. A grant takes one; adding a method touches nothing else. Secrets stay `Redacted`
 * in what a method produces, until the request is put on the wire.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

/**
 * What a client authentication method adds to a token request: headers and form parameters, secrets
 * still `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly headers: ReadonlyArray<readonly [string, Redacted.Redacted<string>]>
  readonly params: ReadonlyArray<readonly [string, string | Redacted.Redacted<string>]>
}

/**
 * What a method knows of the request it authenticates.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly clientId: string
  readonly tokenUrl: string
}

/**
 * A client authentication method.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientAuth {
  /** The RFC 7591 `token_endpoint_auth_method` name: `client_secret_basic`, `client_secret_post`, `none`. */
  readonly method: string
  readonly authenticate: (context: Context) => Effect.Effect<Credentials>
}

/**
 * RFC 6749 §2.3.1: `application/x-www-form-urlencoded` encoding of one value (space as `+`), applied to
 * the client id and secret before they are joined for HTTP Basic.
 *
 * @since 0.1.0
 * @category utils
 */
export const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/**
 * The value of the `Authorization` header for HTTP Basic client authentication, as RFC 6749 §2.3.1
 * requires: `Basic base64(formEncode(id) ":" formEncode(secret))`. (`@effect/platform`'s `basicAuth`
 * skips the form encoding, which breaks ids and secrets with `:`, `%`, `+`, spaces or non-ASCII.)
 *
 * @since 0.1.0
 * @category utils
 */
export const basicAuthorization = (
  clientId: string,
  clientSecret: Redacted.Redacted<string>
): Redacted.Redacted<string> =>
  Redacted.make(
    `Basic ${
      Buffer.from(`${formEncode(clientId)}:${formEncode(Redacted.value(clientSecret))}`, "utf8").toString("base64")
    }`
  )

/**
 * `client_secret_basic`: the client id and secret in an HTTP Basic `Authorization` header (ICEYE).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ClientAuth } from "tokenlayer"
 *
 * const auth = ClientAuth.basic(Redacted.make(process.env.CLIENT_SECRET ?? ""))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const basic = (clientSecret: Redacted.Redacted<string>): ClientAuth => ({
  method: "client_secret_basic",
  authenticate: ({ clientId }) =>
    Effect.succeed({ headers: [["authorization", basicAuthorization(clientId, clientSecret)]], params: [] })
})

/**
 * `client_secret_post`: `client_id` and `client_secret` in the form body (ThingPark, Keycloak).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { ClientAuth } from "tokenlayer"
 *
 * const auth = ClientAuth.post(Redacted.make(process.env.CLIENT_SECRET ?? ""))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const post = (clientSecret: Redacted.Redacted<string>): ClientAuth => ({
  method: "client_secret_post",
  authenticate: ({ clientId }) =>
    Effect.succeed({ headers: [], params: [["client_id", clientId], ["client_secret", clientSecret]] })
})

/**
 * `none`: a public client, identified by `client_id` in the body, with no secret.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: ClientAuth = {
  method: "none",
  authenticate: ({ clientId }) => Effect.succeed({ headers: [], params: [["client_id", clientId]] })
}

/**
 * The method names that `fromMethod` understands.
 *
 * @since 0.1.0
 * @category models
 */
export type SecretMethod = "basic" | "post" | "client_secret_basic" | "client_secret_post"

/**
 * A secret-based method by name, for configuration: `basic` / `client_secret_basic` or
 * `post` / `client_secret_post`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromMethod = (method: SecretMethod, clientSecret: Redacted.Redacted<string>): ClientAuth =>
  method === "post" || method === "client_secret_post" ? post(clientSecret) : basic(clientSecret)
