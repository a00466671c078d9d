/**
 * Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0: find the endpoints of an
 * issuer, check that the document is the issuer's own (RFC 8414 §3.3), and cache it.
 *
 * The cache is `Effect.cachedInvalidateWithTTL` (the `cachedWithTTL` of the user's design, with the
 * means to drop an entry): a document is fetched once per TTL (1 hour by default) however many token
 * requests need it, and a failed fetch is dropped at once instead of being served for the whole TTL
 * (`cachedWithTTL` alone would keep an outage, or an interrupted fetch, for an hour).
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Discovery from "../Discovery.js"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import { exchange } from "./exchange.js"
import { displayUrl, isHttpUrl } from "./urls.js"

/** The two well-known suffixes, in the order they are tried. */
const wellKnownNames = ["oauth-authorization-server", "openid-configuration"] as const

const EndpointUrl = Schema.String.pipe(
  Schema.filter((s) => isHttpUrl(s) || "must be an http(s) URL"),
  Schema.annotations({ identifier: "EndpointUrl" })
)

const MetadataDocument = Schema.Struct({
  issuer: Schema.String,
  token_endpoint: EndpointUrl,
  device_authorization_endpoint: Schema.optional(EndpointUrl),
  revocation_endpoint: Schema.optional(EndpointUrl),
  grant_types_supported: Schema.optional(Schema.Array(Schema.String)),
  token_endpoint_auth_methods_supported: Schema.optional(Schema.Array(Schema.String)),
  scopes_supported: Schema.optional(Schema.Array(Schema.String)),
  mtls_endpoint_aliases: Schema.optional(Schema.Struct({
    token_endpoint: Schema.optional(EndpointUrl),
    device_authorization_endpoint: Schema.optional(EndpointUrl),
    revocation_endpoint: Schema.optional(EndpointUrl)
  }))
}).annotations({ identifier: "AuthorizationServerMetadata" })

const decodeDocument = Schema.decodeUnknownEither(MetadataDocument)

/**
 * The metadata URL of an issuer: RFC 8414 §3.1 inserts `/.well-known/oauth-authorization-server`
 * between the host and the issuer's path; OpenID Connect Discovery appends
 * `/.well-known/openid-configuration` to the issuer.
 *
 * @internal
 */
export const metadataUrl = (issuer: URL, name: (typeof wellKnownNames)[number]): string => {
  const path = issuer.pathname.replace(/\/+$/, "")
  const url = new URL(issuer.toString())
  url.pathname = name === "oauth-authorization-server"
    ? `/.well-known/oauth-authorization-server${path}`
    : `${path}/.well-known/openid-configuration`
  return url.toString()
}

/**
 * What RFC 8414 §2 does not allow in an issuer (an `https` URL, here `http` too, for local servers,
 * with no query or fragment), or `undefined`.
 *
 * @internal
 */
export const issuerProblem = (issuer: string): string | undefined => {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return "not a URL"
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "not an http(s) URL"
  if (url.search !== "" || url.hash !== "" || issuer.includes("?") || issuer.includes("#")) {
    return "an issuer has no query or fragment (RFC 8414 §2)"
  }
  if (url.username !== "" || url.password !== "") return "an issuer has no user or password"
  return undefined
}

const parseIssuer = (issuer: string): Either.Either<URL, TokenError.HttpError> => {
  const problem = issuerProblem(issuer)
  return problem === undefined
    ? Either.right(new URL(issuer))
    : Either.left(
      new TokenError.HttpError({ reason: "Decode", url: displayUrl(issuer), detail: `invalid issuer: ${problem}` })
    )
}

/** One GET: the parsed JSON of a 2xx answer (`None` when it is not JSON), or the `HttpError` of anything else. */
const fetchJson = (client: HttpClient.HttpClient, url: string) =>
  Effect.map(
    exchange(client, HttpClientRequest.get(url).pipe(HttpClientRequest.acceptJson), displayUrl(url)),
    ({ json, response }) => ({ json, status: response.status, contentType: response.headers["content-type"] ?? "none" })
  )

/** Checks a document: the issuer's own (RFC 8414 §3.3), with a token endpoint, every endpoint a URL. */
const toMetadata = (
  issuer: string,
  url: string,
  json: unknown
): Either.Either<Discovery.Metadata, TokenError.HttpError> => {
  const bad = (detail: string) =>
    Either.left(new TokenError.HttpError({ reason: "Decode", url: displayUrl(url), status: 200, detail }))
  if (typeof json !== "object" || json === null || Array.isArray(json)) return bad("the metadata is not a JSON object")
  const named = (json as { readonly issuer?: unknown }).issuer
  if (typeof named === "string" && named !== issuer) {
    return bad(
      `issuer mismatch: the document names ${JSON.stringify(named.slice(0, 200))}, not ${
        JSON.stringify(issuer)
      } (RFC 8414 §3.3)`
    )
  }
  const decoded = decodeDocument(json)
  if (Either.isLeft(decoded)) return bad(`not authorization server metadata: ${Token.describeParseError(decoded.left)}`)
  const doc = decoded.right
  return Either.right({
    issuer: doc.issuer,
    tokenEndpoint: doc.token_endpoint,
    ...(doc.device_authorization_endpoint === undefined
      ? {}
      : { deviceAuthorizationEndpoint: doc.device_authorization_endpoint }),
    ...(doc.revocation_endpoint === undefined ? {} : { revocationEndpoint: doc.revocation_endpoint }),
    ...(doc.grant_types_supported === undefined ? {} : { grantTypesSupported: doc.grant_types_supported }),
    ...(doc.token_endpoint_auth_methods_supported === undefined
      ? {}
      : { tokenEndpointAuthMethodsSupported: doc.token_endpoint_auth_methods_supported }),
    ...(doc.scopes_supported === undefined ? {} : { scopesSupported: doc.scopes_supported }),
    ...mtlsAliasesOf(doc.mtls_endpoint_aliases),
    document: json as Readonly<Record<string, unknown>>
  })
}

/** RFC 8705 §5's `mtls_endpoint_aliases`, the endpoints tokenlayer uses among them. */
const mtlsAliasesOf = (
  aliases: typeof MetadataDocument.Type["mtls_endpoint_aliases"]
): Pick<Discovery.Metadata, "mtlsEndpointAliases"> =>
  aliases === undefined ? {} : {
    mtlsEndpointAliases: {
      ...(aliases.token_endpoint === undefined ? {} : { tokenEndpoint: aliases.token_endpoint }),
      ...(aliases.device_authorization_endpoint === undefined
        ? {}
        : { deviceAuthorizationEndpoint: aliases.device_authorization_endpoint }),
      ...(aliases.revocation_endpoint === undefined ? {} : { revocationEndpoint: aliases.revocation_endpoint })
    }
  }

/**
 * The endpoints of a client that presents a certificate (RFC 8705 §5): each mTLS alias the metadata
 * has, else the endpoint itself.
 *
 * @internal
 */
export const mtlsEndpoints = (metadata: Discovery.Metadata): Discovery.Metadata => {
  const aliases = metadata.mtlsEndpointAliases
  if (aliases === undefined) return metadata
  const device = aliases.deviceAuthorizationEndpoint ?? metadata.deviceAuthorizationEndpoint
  const revocation = aliases.revocationEndpoint ?? metadata.revocationEndpoint
  return {
    ...metadata,
    tokenEndpoint: aliases.tokenEndpoint ?? metadata.tokenEndpoint,
    ...(device === undefined ? {} : { deviceAuthorizationEndpoint: device }),
    ...(revocation === undefined ? {} : { revocationEndpoint: revocation })
  }
}

/**
 * Fetches and checks an issuer's metadata: RFC 8414 first, then OpenID Connect Discovery when the first
 * is not there (a 4xx that is not transient, or an answer that is not JSON). A document that is there
 * but wrong (another issuer, no token endpoint) is an error, not a reason to try the other.
 *
 * @internal
 */
export const discover = (
  issuer: string,
  client: HttpClient.HttpClient,
  options: Discovery.Options = {}
): Effect.Effect<Discovery.Metadata, TokenError.HttpError> =>
  Effect.gen(function*() {
    const parsed = parseIssuer(issuer)
    if (Either.isLeft(parsed)) return yield* Effect.fail(parsed.left)
    const names = options.wellKnown === undefined ? wellKnownNames : [options.wellKnown]
    const misses: Array<string> = []
    let lastStatus: number | undefined = undefined
    for (const name of names) {
      const url = metadataUrl(parsed.right, name)
      const answer = yield* Effect.either(fetchJson(client, url))
      if (Either.isLeft(answer)) {
        const error = answer.left
        if (error.reason !== "Status" || TokenError.isTransient(error)) return yield* Effect.fail(error)
        misses.push(`${displayUrl(url)} (${error.status})`)
        lastStatus = error.status
        continue
      }
      if (Option.isNone(answer.right.json)) {
        misses.push(`${displayUrl(url)} (not JSON: ${answer.right.contentType.slice(0, 100)})`)
        lastStatus = answer.right.status
        continue
      }
      const metadata = toMetadata(issuer, url, answer.right.json.value)
      if (Either.isLeft(metadata)) return yield* Effect.fail(metadata.left)
      return metadata.right
    }
    return yield* Effect.fail(
      new TokenError.HttpError({
        reason: lastStatus !== undefined && lastStatus >= 200 && lastStatus < 300 ? "Decode" : "Status",
        url: displayUrl(issuer),
        ...(lastStatus === undefined ? {} : { status: lastStatus }),
        detail: `no authorization server metadata at ${misses.join(" nor at ")}`
      })
    )
  })

/**
 * An issuer's metadata, fetched at most once per `ttl` (default 1 hour) over `client`, failures not
 * kept. Building the cache runs nothing (a `SynchronizedRef`): no context, no Clock, nothing to fail.
 *
 * @internal
 */
export const make = (
  issuer: string,
  client: HttpClient.HttpClient,
  options: Discovery.Options = {}
): Effect.Effect<Discovery.Discovery> => {
  const ttl = Duration.decode(options.ttl ?? "1 hour")
  return Effect.map(
    Effect.cachedInvalidateWithTTL(discover(issuer, client, options), ttl),
    ([cached, invalidate]): Discovery.Discovery => ({
      _tag: "Discovery",
      issuer,
      ttl,
      metadata: Effect.onExit(cached, (exit) => Exit.isFailure(exit) ? invalidate : Effect.void)
    })
  )
}

/**
 * `make`, run at once, for the constructors that return a grant as a plain value: the cache's
 * construction is pure, so this cannot block or fail.
 *
 * @internal
 */
export const unsafeMake = (
  issuer: string,
  client: HttpClient.HttpClient,
  options: Discovery.Options = {}
): Discovery.Discovery => Effect.runSync(make(issuer, client, options))
