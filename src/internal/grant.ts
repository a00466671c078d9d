/**
 * The base of every grant module: the `Grant` Tag, its `Service`, and the key. `Grant.ts` re-exports
 * these, and every `Grant/*.ts` module builds on them, so that no grant module imports `Grant.ts` (which
 * re-exports the grant modules: that would be a cycle).
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"

/**
 * What a token is asked for, beyond what the grant itself says: the scopes, the audience, the RFC 8707
 * resources, the user (`subject`: whose refresh token, whose assertion), and more form parameters.
 * Each part given overrides the grant's own.
 *
 * @internal
 */
export interface Request {
  /** Space-separated scopes (their order does not matter). */
  readonly scope?: string | undefined
  /** `audience` (Auth0, Okta): the API the token is for. */
  readonly audience?: string | undefined
  /** RFC 8707 `resource` indicators (absolute URIs; a list repeats the parameter). */
  readonly resource?: string | ReadonlyArray<string> | undefined
  /** The user the token is for: whose refresh token is traded, whose `sub` the assertion carries. */
  readonly subject?: string | undefined
  /** More form parameters; they override the grant's `extraParams` of the same name. */
  readonly params?: Readonly<Record<string, string>> | undefined
}

/** @internal */
export interface Service {
  /** Names this grant's tokens in caches and stores. Contains no secret. */
  readonly key: string
  /** Asks for a new token, once. `current` is the token held now, if any (a refresh token grant uses it). */
  readonly request: (current: Option.Option<Token.Token>) => Effect.Effect<Token.Token, TokenError.HttpError>
  /**
   * The request waits for a person (the device flow: minutes, not seconds). The token service gives it
   * no per-attempt timeout (it still retries transient failures); the grant bounds each of its own HTTP
   * exchanges instead. Default: false.
   */
  readonly interactive?: boolean | undefined
  /**
   * This grant for a request (another scope, audience, resource, user, parameters): a grant whose key
   * is `requestKey(key, request)` and whose form parameters are the request's where it gives them. A
   * grant without it serves only the empty request (a `TokenCache` refuses any other with a typed
   * error, never a token asked for something else).
   */
  readonly forRequest?: ((request: Request) => Service) | undefined
}

/** @internal */
export class Grant extends Context.Tag("tokenlayer/Grant")<Grant, Service>() {}

/**
 * Percent-encodes the characters that give a key its structure (`%`, `;`, `=`, space), so that values
 * containing them (a scope token may contain `;` and `=`) cannot make two different grants share a key.
 */
const keyValue = (value: string): string =>
  value.replace(/[%;= ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

/**
 * One part of a key: a name and a value, a list (sorted, space-separated), or nothing (left out).
 *
 * @internal
 */
export type KeyPart = readonly [string, string | ReadonlyArray<string> | undefined]

/**
 * Builds the cache key of a grant from what distinguishes its tokens: `grant=<type>;name=value;...`,
 * lists sorted and space-separated, the structural characters of each value percent-encoded so that
 * different grants never share a key. Never pass a secret.
 *
 * @internal
 */
export const makeKey = (grantType: string, parts: ReadonlyArray<KeyPart>): string => {
  const fields = [`grant=${keyValue(grantType)}`]
  for (const [name, value] of parts) {
    if (value === undefined) continue
    const text = typeof value === "string"
      ? keyValue(value)
      : value.filter((v) => v !== "").map(keyValue).sort().join(" ")
    if (text !== "") fields.push(`${name}=${text}`)
  }
  return fields.join(";")
}

/**
 * A `scope` option as key parts: the scopes as a list (their order does not matter).
 *
 * @internal
 */
export const scopeList = (scope: string | undefined): ReadonlyArray<string> | undefined =>
  scope === undefined ? undefined : scope.split(/\s+/)

/** Whether a request asks for nothing beyond the grant's own token. */
export const isEmptyRequest = (request: Request | undefined): boolean =>
  request === undefined || (
    (request.scope === undefined || request.scope.trim() === "") &&
    request.audience === undefined &&
    (request.resource === undefined || (typeof request.resource !== "string" && request.resource.length === 0)) &&
    request.subject === undefined &&
    (request.params === undefined || Object.keys(request.params).length === 0)
  )

/** The key part naming a subject: every key of that user's tokens is this prefix, alone or followed by `;`. */
export const subjectPart = (subject: string): string => `request.subject=${keyValue(subject)}`

/**
 * The key of a grant's token for a request: the grant's key, then the request's parts (the subject
 * first, so that every key of a user starts with `<key>;request.subject=<subject>`), the scopes as a
 * set, the resources sorted, the parameters by name. The empty request has the grant's own key.
 *
 * @internal
 */
export const requestKey = (key: string, request: Request | undefined): string => {
  if (request === undefined || isEmptyRequest(request)) return key
  const fields = [key]
  if (request.subject !== undefined) fields.push(subjectPart(request.subject))
  const scope = request.scope === undefined ? "" : request.scope.trim()
  if (scope !== "") fields.push(`request.scope=${[...new Set(scope.split(/\s+/))].map(keyValue).sort().join(" ")}`)
  if (request.audience !== undefined) fields.push(`request.audience=${keyValue(request.audience)}`)
  if (request.resource !== undefined) {
    const list = typeof request.resource === "string" ? [request.resource] : request.resource
    if (list.length > 0) fields.push(`request.resource=${list.map(keyValue).sort().join(" ")}`)
  }
  if (request.params !== undefined) {
    for (const name of Object.keys(request.params).sort()) {
      fields.push(`request.param.${keyValue(name)}=${keyValue(request.params[name]!)}`)
    }
  }
  return fields.join(";")
}

/**
 * A grant that asks for nothing: every request fails at once with `detail`, nothing sent. For a request
 * a grant cannot serve (a user for a client credentials grant, any request for a grant without
 * `forRequest`): a typed error, never a token that was asked for something else.
 *
 * @internal
 */
export const refusing = (key: string, detail: string, url?: string): Service => {
  const error = new TokenError.HttpError({
    reason: "Decode",
    ...(url === undefined ? {} : { url }),
    detail: `${detail}; nothing was sent`
  })
  return { key, request: () => Effect.fail(error) }
}

/** A form parameter, as the token endpoint's funnel takes it. */
export type FormParam = readonly [string, string | Redacted.Redacted<string>]

/**
 * The form parameters of a request, in the order the grants send them, leaving out what it does not
 * give: `scope`, `audience`, each `resource`, then its `params`.
 *
 * @internal
 */
export const requestOverrides = (
  base: ReadonlyArray<FormParam>,
  request: Request
): Array<FormParam> => {
  const overridden = new Set<string>()
  const added: Array<FormParam> = []
  const scope = request.scope === undefined ? "" : request.scope.trim()
  if (scope !== "") {
    overridden.add("scope")
    added.push(["scope", scope])
  }
  if (request.audience !== undefined) {
    overridden.add("audience")
    added.push(["audience", request.audience])
  }
  if (request.resource !== undefined) {
    const list = typeof request.resource === "string" ? [request.resource] : request.resource
    if (list.length > 0) {
      overridden.add("resource")
      for (const r of list) added.push(["resource", r])
    }
  }
  for (const [name, value] of Object.entries(request.params ?? {})) {
    overridden.add(name)
    added.push([name, value])
  }
  return [...base.filter(([name]) => !overridden.has(name)), ...added]
}
