/**
 * The generic grant: any `grant_type` through the one funnel to the token endpoint.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ClientAuth from "../ClientAuth.js"
import type * as Grant from "../Grant.js"
import type * as Token from "../Token.js"
import type * as TokenError from "../TokenError.js"
import * as Discovery from "./discovery.js"
import * as GrantKey from "./grantKey.js"
import * as TokenEndpoint from "./tokenEndpoint.js"

/**
 * Form parameters by name: a value, a list (the parameter repeated), or a `Redacted` secret (sent, never
 * logged, never in the key). `undefined` and empty values are not sent.
 *
 * @internal
 */
export type Params = Readonly<
  Record<string, string | Redacted.Redacted<string> | ReadonlyArray<string> | undefined>
>

/** @internal */
export type Options = Grant.TokenEndpointOptions & Grant.ClientAuthOptions & {
  readonly grantType: string
  readonly clientId?: string | undefined
  readonly params?: Params | ((current: Option.Option<Token.Token>) => Effect.Effect<Params, TokenError.HttpError>)
  readonly key?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | undefined
  readonly interactive?: boolean | undefined
}

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
 * The client's authentication: the method given, else HTTP Basic with the secret, else a public client
 * (its id in the form); no client credentials at all without a `clientId`.
 */
const clientOf = (options: Options): Pick<TokenEndpoint.Endpoint, "clientId" | "auth"> =>
  options.clientId === undefined ? {} : {
    clientId: options.clientId,
    auth: options.clientAuth ?? (options.clientSecret === undefined
      ? ClientAuth.none
      : ClientAuth.basic(options.clientSecret))
  }

/** @internal */
export const make = (options: Options, client: HttpClient.HttpClient): Grant.Service => {
  const endpoints = Discovery.endpoints(options, client)
  const endpoint: TokenEndpoint.Endpoint = { tokenUrl: endpoints.tokenUrl, ...clientOf(options) }
  const params = options.params
  const paramsFor = (current: Option.Option<Token.Token>): Effect.Effect<Params, TokenError.HttpError> =>
    params === undefined ? Effect.succeed({}) : typeof params === "function" ? params(current) : Effect.succeed(params)
  return {
    key: GrantKey.makeKey(options.grantType, [
      ...endpoints.keyParts,
      ["client", options.clientId],
      ...Object.entries(options.key ?? plainParams(params))
    ]),
    interactive: options.interactive,
    request: (current) =>
      Effect.flatMap(
        paramsFor(current),
        (p) => TokenEndpoint.grantRequest(client, endpoint, options.grantType, toParams(p))
      )
  }
}
