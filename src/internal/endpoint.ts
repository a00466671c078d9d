/**
 * Where a grant's requests go and who sends them, as one value: the funnel's `Endpoint`.
 *
 * An `Endpoint` holds the client (its id and `ClientAuth`), the server's endpoints as an `Effect` (the
 * same value whether they were given as URLs or are read from the issuer's metadata, see
 * `Discovery`), and the part of a grant's key that names the server. Every grant builds one from its
 * options (`make`), and every request goes through it (`tokenEndpoint.grantRequest`).
 *
 * The options are checked here: a URL that is not an http(s) URL when a grant is built (`check`: the
 * modules' layers fail with the `ConfigError` naming the option; a grant built as a plain value,
 * `Grant.makeClientCredentials(options, client)`, fails each request with it instead); an empty
 * secret at the first request (`secretProblem`). Either way nothing is sent, and it is not retried.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as ClientAuth from "../ClientAuth.js"
import type * as Discovery from "../Discovery.js"
import * as TokenError from "../TokenError.js"
import * as InternalDiscovery from "./discovery.js"
import * as DPoP from "./dpop.js"
import * as DPoPHttp from "./dpopHttp.js"
import type { Service } from "./grant.js"
import { displayUrl, isHttpUrl, urlKeyParts } from "./urls.js"

/**
 * A server's endpoints, given or discovered.
 *
 * @internal
 */
export interface Endpoints {
  readonly tokenEndpoint: string
  readonly deviceAuthorizationEndpoint?: string | undefined
  readonly revocationEndpoint?: string | undefined
}

/**
 * The funnel's "where and who".
 *
 * @internal
 */
export interface Endpoint {
  /** What names the server in a grant's key: `url=<tokenUrl>` or `issuer=<issuer>` (see `urlKeyParts`). */
  readonly keyParts: ReadonlyArray<readonly [string, string]>
  /** The issuer, when the endpoints come from its metadata. */
  readonly issuer?: string | undefined
  /** The server's endpoints: at once when given, else from the issuer's (cached) metadata. */
  readonly endpoints: Effect.Effect<Endpoints, TokenError.HttpError>
  /** The client, when it authenticates; without it a request carries no client credentials. */
  readonly clientId?: string | undefined
  readonly auth?: ClientAuth.ClientAuth | undefined
}

/**
 * Where a grant's server is: its URLs, or the issuer whose metadata names them.
 *
 * @internal
 */
export interface Location {
  readonly tokenUrl?: string | undefined
  readonly deviceAuthorizationUrl?: string | undefined
  readonly revocationUrl?: string | undefined
  readonly issuer?: string | Discovery.Discovery | undefined
}

/**
 * How a grant's client authenticates (see `Grant.ClientAuthOptions`).
 *
 * @internal
 */
export interface ClientOptions {
  readonly clientId?: string | undefined
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  readonly clientAuth?: ClientAuth.ClientAuth | undefined
}

const issuerOf = (issuer: string | Discovery.Discovery): string => typeof issuer === "string" ? issuer : issuer.issuer

/**
 * The key parts that name a grant's server: the issuer when there is one, else the token URL.
 *
 * @internal
 */
export const keyParts = (location: Location): ReadonlyArray<readonly [string, string]> =>
  location.issuer === undefined
    ? urlKeyParts("url", location.tokenUrl ?? "")
    : urlKeyParts("issuer", issuerOf(location.issuer))

/**
 * The client's authentication method: the one given, else HTTP Basic with the secret, else a public
 * client (`ClientAuth.none`: its id in the form).
 *
 * @internal
 */
export const clientAuthOf = (options: ClientOptions): ClientAuth.ClientAuth =>
  options.clientAuth ?? (options.clientSecret === undefined ? ClientAuth.none : ClientAuth.basic(options.clientSecret))

const urlProblem = (url: string): string | undefined => {
  if (isHttpUrl(url)) return undefined
  try {
    // the protocol only: the rest may be a secret pasted in the wrong place
    return `Expected an http(s) URL, not a ${new URL(url).protocol} URL`
  } catch {
    return url === ""
      ? "Expected an http(s) URL, not an empty string"
      : "Expected an http(s) URL, not something that is not a URL"
  }
}

/**
 * What is wrong with where a grant's options say its server is, found when the grant is built: no
 * token URL nor issuer, a URL option that is not an absolute http(s) URL, an issuer that RFC 8414 §2
 * does not allow. `undefined` when nothing is. The error names the option and never shows a URL's
 * secret parts.
 *
 * @internal
 */
export const check = (options: Location): ConfigError.ConfigError | undefined => {
  if (options.issuer === undefined && options.tokenUrl === undefined) {
    return ConfigError.MissingData(["tokenUrl"], "Expected tokenUrl or issuer to be given")
  }
  for (const name of ["revocationUrl", "tokenUrl", "deviceAuthorizationUrl"] as const) {
    const url = options[name]
    const problem = url === undefined ? undefined : urlProblem(url)
    if (problem !== undefined) return ConfigError.InvalidData([name], problem)
  }
  if (options.issuer !== undefined) {
    const problem = InternalDiscovery.issuerProblem(issuerOf(options.issuer))
    if (problem !== undefined) return ConfigError.InvalidData(["issuer"], problem)
  }
  return undefined
}

/**
 * An empty secret among a grant's options (`Redacted.make(process.env.X ?? "")` with `X` unset): the
 * client secret, the secret of its `ClientAuth` (see `ClientAuth.problem`), or another of the grant's
 * (`secrets`, by option name). Found before any request, never shown.
 *
 * @internal
 */
export const secretProblem = (
  options: ClientOptions,
  auth: ClientAuth.ClientAuth | undefined,
  secrets: Readonly<Record<string, Redacted.Redacted<string> | undefined>> = {}
): ConfigError.ConfigError | undefined => {
  if (options.clientSecret !== undefined && options.clientAuth === undefined) {
    const problem = ClientAuth.basic(options.clientSecret).problem
    if (problem !== undefined) return ConfigError.InvalidData(["clientSecret"], problem)
  }
  if (auth?.problem !== undefined) return ConfigError.InvalidData(["clientAuth"], auth.problem)
  for (const [name, secret] of Object.entries(secrets)) {
    if (secret !== undefined && Redacted.value(secret) === "") {
      return ConfigError.InvalidData(
        [name],
        "Expected a secret, not an empty string (is its environment variable set?)"
      )
    }
  }
  return undefined
}

/**
 * The failure of every request of a grant whose options `check` or `secretProblem` refused: not
 * transient, nothing sent.
 *
 * @internal
 */
export const invalidOptions = (error: ConfigError.ConfigError): TokenError.HttpError =>
  new TokenError.HttpError({ reason: "Decode", detail: `invalid grant options: ${String(error)}, nothing was sent` })

/**
 * A grant module's `make`: `check` the options (a `ConfigError` naming the option), then build the
 * grant over the `HttpClient` in context. Nothing is sent.
 *
 * @internal
 */
export const checked = <O, E = never>(
  problem: (options: O) => ConfigError.ConfigError | undefined,
  build: (options: O, client: HttpClient.HttpClient) => Service | Effect.Effect<Service, E>
) =>
(options: O): Effect.Effect<Service, ConfigError.ConfigError | E, HttpClient.HttpClient> => {
  const error = problem(options)
  if (error !== undefined) return Effect.fail(error)
  return Effect.flatMap(HttpClient.HttpClient, (given) =>
    Effect.flatMap(Effect.serviceOption(DPoP.DPoP), (dpop) => {
      // DPoP (RFC 9449): with a DPoP service in context, every token request carries a proof
      const client = dpop._tag === "Some" ? DPoPHttp.tokenClient(given, dpop.value) : given
      const grant = build(options, client)
      return Effect.isEffect(grant) ? grant : Effect.succeed(grant)
    }))
}

/**
 * The endpoint of a grant's options: its URLs as given, or its issuer's metadata (an issuer given as a
 * string gets a cache of its own, a `Discovery` is shared by every grant given it), and its client.
 * Options that `check` refuses (a grant built as a plain value), or with an empty secret, give an
 * endpoint whose every request fails at once, nothing sent.
 *
 * @internal
 */
export const make = (
  options: Location & ClientOptions,
  client: HttpClient.HttpClient,
  who: Pick<Endpoint, "clientId" | "auth"> = options.clientId === undefined ? {} : {
    clientId: options.clientId,
    auth: clientAuthOf(options)
  },
  secrets?: Readonly<Record<string, Redacted.Redacted<string> | undefined>>
): Endpoint => {
  const problem = check(options) ?? secretProblem(options, who.auth, secrets)
  const base = { keyParts: keyParts(options), ...who }
  if (problem !== undefined) return { ...base, endpoints: Effect.fail(invalidOptions(problem)) }
  if (options.issuer === undefined) {
    const given: Endpoints = {
      tokenEndpoint: options.tokenUrl ?? "",
      deviceAuthorizationEndpoint: options.deviceAuthorizationUrl,
      revocationEndpoint: options.revocationUrl
    }
    return { ...base, endpoints: Effect.succeed(given) }
  }
  const discovery = typeof options.issuer === "string"
    ? InternalDiscovery.unsafeMake(options.issuer, client)
    : options.issuer
  // a client that presents a certificate uses the metadata's mTLS aliases (RFC 8705 §5)
  const endpoints = who.auth?.httpClient === undefined
    ? discovery.metadata
    : Effect.map(discovery.metadata, InternalDiscovery.mtlsEndpoints)
  return { ...base, issuer: discovery.issuer, endpoints }
}

/**
 * The client an endpoint's requests go over: its `ClientAuth`'s own (the `MutualTls` client, which
 * presents the certificate), else the grant's.
 *
 * @internal
 */
export const httpClientOf = (endpoint: Endpoint, http: HttpClient.HttpClient): HttpClient.HttpClient =>
  endpoint.auth?.httpClient ?? http

/**
 * The token endpoint's URL.
 *
 * @internal
 */
export const tokenUrl = (endpoint: Endpoint): Effect.Effect<string, TokenError.HttpError> =>
  Effect.map(endpoint.endpoints, (e) => e.tokenEndpoint)

/**
 * RFC 8628's device authorization endpoint; fails when the options or the metadata have none.
 *
 * @internal
 */
export const deviceAuthorizationUrl = (endpoint: Endpoint): Effect.Effect<string, TokenError.HttpError> =>
  Effect.flatMap(endpoint.endpoints, (e) =>
    e.deviceAuthorizationEndpoint !== undefined
      ? Effect.succeed(e.deviceAuthorizationEndpoint)
      : Effect.fail(
        endpoint.issuer === undefined
          ? new TokenError.HttpError({ reason: "Decode", detail: "no device authorization URL was given" })
          : new TokenError.HttpError({
            reason: "Decode",
            url: displayUrl(endpoint.issuer),
            detail: "the issuer's metadata names no device_authorization_endpoint (RFC 8628 §4)"
          })
      ))
