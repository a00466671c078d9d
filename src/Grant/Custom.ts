/**
 * The generic grant: a grant tokenlayer does not ship (RFC 8693 token exchange, a vendor's own
 * `grant_type`) in a few lines, its `grant_type` and form parameters. It goes through the same funnel as
 * the built-in grants, so retries, `Retry-After`, the refresh policy, the stores, bounded and checked
 * answers, typed `HttpError`s and redaction come with it.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Grant from "../Grant.js"
import * as Endpoint from "../internal/endpoint.js"
import { Grant as GrantTag, makeKey, refusing, requestKey, requestOverrides } from "../internal/grant.js"
import type { Service } from "../internal/grant.js"
import * as TokenEndpoint from "../internal/tokenEndpoint.js"
import type * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"

/**
 * Form parameters by name: a value, a list (the parameter repeated), or a `Redacted` secret (sent,
 * never logged, never part of the key). Absent and empty values are not sent.
 *
 * @since 0.1.0
 * @category models
 */
export type Params = Readonly<
  Record<string, string | Redacted.Redacted<string> | ReadonlyArray<string> | undefined>
>

/**
 * What names a custom grant's tokens besides its type, server and client: never a secret.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyParts = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * The options of a custom grant.
 *
 * - `grantType`: the `grant_type` sent (`urn:ietf:params:oauth:grant-type:token-exchange`, a vendor's).
 * - `tokenUrl` or `issuer`, as for every grant.
 * - `clientId` with `clientSecret` (HTTP Basic) or `clientAuth` (any method), or `clientId` alone (a
 *   public client: its id in the form). Without `clientId` no client credentials are sent.
 * - `params`: the grant's own parameters, fixed, or an effect computing them for each request from the
 *   token held now (a subject token read from a file, a refresh token to trade) and, under a
 *   `TokenCache`, the request (`request.subject`: whose subject token to send).
 * - `key`: what tells this grant's tokens apart besides the grant type, the URL and the client (an
 *   audience, a subject); never a secret. By default, the fixed parameters that are not `Redacted`
 *   (as `param.<name>`); give `key` when `params` is a function.
 * - `interactive`: the request waits for a person (no per-attempt timeout).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Grant.TokenEndpointOptions & Grant.ClientAuthOptions & {
  readonly grantType: string
  readonly clientId?: string | undefined
  readonly params?:
    | Params
    | ((
      current: Option.Option<Token.Token>,
      request?: Grant.Request
    ) => Effect.Effect<Params, TokenError.HttpError>)
  readonly key?: KeyParts | undefined
  readonly interactive?: boolean | undefined
}

/**
 * What `key` needs: the options without the secrets.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions = Grant.TokenEndpointOptions & Pick<Options, "grantType" | "clientId" | "params" | "key">

const toParams = (params: Params): Array<TokenEndpoint.Param> => {
  const out: Array<TokenEndpoint.Param> = []
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    if (typeof value === "string") {
      if (value !== "") out.push([name, value])
    } else if (Array.isArray(value)) {
      for (const v of value as ReadonlyArray<string>) if (v !== "") out.push([name, v])
    } else {
      out.push([name, value as Redacted.Redacted<string>])
    }
  }
  return out
}

/**
 * The key parts a custom grant has when it names none: its fixed parameters that are not secrets (an
 * `audience`, a `resource`, a `scope`), so that two grants that ask for different tokens never share an
 * entry. Parameters computed per request give none: give `key` then.
 */
const plainParams = (params: Options["params"]): Record<string, string | ReadonlyArray<string>> => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  if (params === undefined || typeof params === "function") return out
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === "string" || Array.isArray(value)) {
      out[`param.${name}`] = value as string | ReadonlyArray<string>
    }
  }
  return out
}

/**
 * The key a grant built from these options has, computed without building it.
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (options: KeyOptions): string =>
  makeKey(options.grantType, [
    ...Endpoint.keyParts(options),
    ["client", options.clientId],
    ...Object.entries(options.key ?? plainParams(options.params))
  ])

/** The fixed parameters that are secrets, by name: an empty one is refused when the grant is built. */
const fixedSecrets = (params: Options["params"]): Record<string, Redacted.Redacted<string>> => {
  const out: Record<string, Redacted.Redacted<string>> = {}
  if (params === undefined || typeof params === "function") return out
  for (const [name, value] of Object.entries(params)) if (Redacted.isRedacted(value)) out[`params.${name}`] = value
  return out
}

/**
 * A custom grant as a value over the given client, built at once, without the checks of `make`: options
 * that `make` refuses fail every request instead, at once and without sending anything. Prefer `make`
 * or `layer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (options: Options, client: HttpClient.HttpClient): Service => {
  const endpoint = Endpoint.make(options, client, undefined, fixedSecrets(options.params))
  const params = options.params
  const paramsFor = (current: Option.Option<Token.Token>): Effect.Effect<Params, TokenError.HttpError> =>
    params === undefined ? Effect.succeed({}) : typeof params === "function" ? params(current) : Effect.succeed(params)
  const base = key(options)
  return {
    key: base,
    interactive: options.interactive,
    request: (current) =>
      Effect.flatMap(
        paramsFor(current),
        (p) => TokenEndpoint.grantRequest(client, endpoint, options.grantType, toParams(p))
      ),
    // the request's scope, audience, resources and parameters merged over the grant's; a subject only
    // for parameters computed per request (the function is given the request: whose subject token)
    forRequest: (request) => {
      const k = requestKey(base, request)
      if (request.subject !== undefined && typeof params !== "function") {
        return refusing(k, "this custom grant has fixed parameters: it cannot ask for a user's token (subject)")
      }
      return {
        key: k,
        interactive: options.interactive,
        request: (current) =>
          Effect.flatMap(
            typeof params === "function" ? params(current, request) : paramsFor(current),
            (p) =>
              TokenEndpoint.grantRequest(client, endpoint, options.grantType, requestOverrides(toParams(p), request))
          )
      }
    }
  }
}

/**
 * A custom grant as a value over the `HttpClient` in context: a `ConfigError` naming `tokenUrl` or
 * `issuer` when it is not an http(s) URL. A fixed `Redacted` parameter that is empty fails the first
 * request, nothing sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, ConfigError.ConfigError, HttpClient.HttpClient> =
  Endpoint.checked<Options>(Endpoint.check, makeWith)

/**
 * A custom grant as a layer, over the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { TokenService } from "tokenlayer"
 * import * as Custom from "tokenlayer/Grant/Custom"
 *
 * // RFC 8693 token exchange: a workload's token traded for one for the billing API
 * const Exchanged = TokenService.layer().pipe(
 *   Layer.provide(Custom.layer({
 *     grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
 *     tokenUrl: "https://auth.example.com/oauth2/token",
 *     clientId: "gateway",
 *     clientSecret: Redacted.make(process.env.GATEWAY_SECRET ?? ""),
 *     params: {
 *       subject_token: Redacted.make(process.env.WORKLOAD_TOKEN ?? ""),
 *       subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
 *       audience: "billing"
 *     },
 *     key: { audience: "billing" }
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, make(options))

/**
 * A custom grant, its options read through `Config`: the grant's own parameters are the program's, so
 * there is no default reader; build one with `Config.all`.
 *
 * @example
 * ```ts
 * import { Config, Effect } from "effect"
 * import * as Custom from "tokenlayer/Grant/Custom"
 *
 * const Exchange = Custom.layerConfig(Config.all({
 *   grantType: Config.succeed("urn:ietf:params:oauth:grant-type:token-exchange"),
 *   tokenUrl: Config.string("TOKEN_URL"),
 *   clientId: Config.string("CLIENT_ID"),
 *   clientSecret: Config.redacted("CLIENT_SECRET"),
 *   params: Config.map(Config.redacted("SUBJECT_TOKEN"), (subject_token) => ({
 *     subject_token,
 *     subject_token_type: "urn:ietf:params:oauth:token-type:access_token"
 *   }))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<GrantTag, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(GrantTag, Effect.flatMap(config, make))
