/**
 * RFC 8707 resource indicators in the embedded `AuthServer`: the `resource` parameters of a token
 * request (repeatable), checked against the resources the client registered, and the audiences and
 * scope of the token issued for them. Applied by the token endpoint to every grant's token (token
 * exchange checks its own targets), so that each grant is one table entry still.
 *
 * @internal
 */
import * as Either from "effect/Either"
import type * as AuthServer from "../AuthServer.js"
import { OAuthError } from "./oauthBase.js"

/**
 * A registered resource, with its defaults resolved.
 *
 * @internal
 */
export interface Resource {
  readonly resource: string
  /** The `aud` of its tokens. */
  readonly audience: ReadonlyArray<string>
  /** The scopes a token for it may carry; `undefined` when any the client may have. */
  readonly scopes: ReadonlyArray<string> | undefined
}

/**
 * What a token is for: the resources asked for, the audiences they mean, the scope it may carry.
 *
 * @internal
 */
export interface Target {
  readonly resource: ReadonlyArray<string>
  readonly audience: ReadonlyArray<string>
  readonly scope: ReadonlyArray<string>
}

const invalidTarget = (description: string): OAuthError =>
  new OAuthError({ status: 400, error: "invalid_target", description })

/** RFC 8707 §2: an absolute URI without a fragment. */
export const isResourceUri = (value: string): boolean => {
  if (value.length > 2048 || !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value) || value.includes("#")) return false
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}

/**
 * The resources a client registered, by URI. A malformed URI is a mistake in the test: it throws.
 *
 * @internal
 */
export const resources = (
  clientId: string,
  registered: ReadonlyArray<string | AuthServer.ResourceRegistration> | undefined
): ReadonlyMap<string, Resource> | undefined => {
  if (registered === undefined) return undefined
  const map = new Map<string, Resource>()
  for (const entry of registered) {
    const resource = typeof entry === "string" ? { resource: entry } : entry
    if (!isResourceUri(resource.resource)) {
      throw new Error(`AuthServer: client ${clientId}: resource ${resource.resource} is not an absolute URI`)
    }
    const audience = resource.audience === undefined
      ? [resource.resource]
      : typeof resource.audience === "string"
      ? [resource.audience]
      : [...resource.audience]
    map.set(resource.resource, { resource: resource.resource, audience, scopes: resource.scopes })
  }
  return map
}

/**
 * The target of a token: the request's `resource` values, each an absolute URI and, when the client
 * registered resources, one of them (else `invalid_target`); the scope granted by the grant, narrowed
 * to what every requested resource allows (RFC 6749 §3.3: the server may issue less than asked; with
 * nothing left it refuses with `invalid_scope`).
 *
 * @internal
 */
export const target = (
  client: { readonly id: string; readonly resources?: ReadonlyMap<string, Resource> | undefined },
  form: URLSearchParams,
  scope: ReadonlyArray<string>
): Either.Either<Target, OAuthError> => {
  const asked = form.getAll("resource")
  if (asked.length > 16) return Either.left(invalidTarget("too many resource parameters"))
  const found: Array<Resource> = []
  for (const value of new Set(asked)) {
    if (!isResourceUri(value)) {
      return Either.left(invalidTarget("a resource must be an absolute URI without a fragment"))
    }
    const registered = client.resources?.get(value)
    if (client.resources !== undefined && registered === undefined) {
      return Either.left(invalidTarget(`client ${client.id} may not ask for a token for that resource`))
    }
    found.push(registered ?? { resource: value, audience: [value], scopes: undefined })
  }
  let granted = scope
  for (const resource of found) {
    if (resource.scopes !== undefined) granted = granted.filter((s) => resource.scopes!.includes(s))
  }
  if (scope.length > 0 && granted.length === 0) {
    return Either.left(
      new OAuthError({ status: 400, error: "invalid_scope", description: "no requested scope is valid there" })
    )
  }
  return Either.right({
    resource: found.map((r) => r.resource),
    audience: [...new Set(found.flatMap((r) => r.audience))],
    scope: granted
  })
}
