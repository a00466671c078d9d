/**
 * `tokenlayer logout`: deletes the cached token, and revokes it (RFC 7009) where the server publishes a
 * revocation endpoint.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Grant from "../../Grant.js"
import * as Revocation from "../../Revocation.js"
import type * as TokenError from "../../TokenError.js"
import * as TokenStore from "../../TokenStore.js"
import type * as Args from "../Args.js"
import * as Errors from "../Errors.js"
import * as Grants from "../Grants.js"
import * as Output from "../Output.js"
import * as Settings from "../Settings.js"
import { fileStore, httpClient, optionalSecret, storeFailure } from "../Tokens.js"

/** Where to revoke: the settings' revocation URL, or the issuer's metadata. `None`: nowhere. */
const revocationEndpoint = (
  settings: Settings.Settings,
  client: HttpClient.HttpClient
): Effect.Effect<Option.Option<{ readonly revocationUrl: string; readonly tokenUrl: string }>, TokenError.HttpError> =>
  Effect.gen(function*() {
    if (settings.revocationUrl !== undefined) {
      return Option.some({
        revocationUrl: settings.revocationUrl,
        tokenUrl: settings.tokenUrl ?? settings.revocationUrl
      })
    }
    if (settings.issuer === undefined) return Option.none()
    const metadata = yield* Grant.discover(settings.issuer).pipe(Effect.provideService(HttpClient.HttpClient, client))
    return metadata.revocationEndpoint === undefined
      ? Option.none()
      : Option.some({
        revocationUrl: metadata.revocationEndpoint,
        tokenUrl: settings.tokenUrl ?? metadata.tokenEndpoint
      })
  })

/**
 * `tokenlayer logout`.
 *
 * @since 0.1.0
 * @category commands
 */
export const logout = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const settings = yield* Settings.resolve(parsed.values)
    const client = yield* httpClient
    const key = Grants.keyOf(settings)
    const store = yield* fileStore(settings)
    const cached = yield* store.load(key).pipe(
      Effect.map(Option.some),
      Effect.catchTags({ NotCached: () => Effect.succeedNone, Corrupted: () => Effect.succeedNone }),
      Effect.mapError(storeFailure)
    )
    yield* TokenStore.withLock(store, key, store.remove(key)).pipe(Effect.mapError(storeFailure))
    const who = `profile ${settings.profile}`
    if (Option.isNone(cached)) return yield* Output.err(`${who}: no token was cached; nothing to revoke`)
    const notRevoked = (error: Errors.CliError) =>
      new Errors.CliError({ kind: error.kind, text: `${who}: token deleted, but not revoked: ${error.text}` })
    const endpoint = yield* revocationEndpoint(settings, client).pipe(
      Effect.mapError((error) => notRevoked(Errors.fromHttpError(error, settings)))
    )
    if (Option.isNone(endpoint)) {
      return yield* Output.err(
        `${who}: token deleted; the server publishes no revocation endpoint, so it stays valid until it expires`
      )
    }
    const secret = yield* optionalSecret(settings).pipe(Effect.mapError(notRevoked))
    const auth = yield* Grants.clientAuth(settings, secret).pipe(Effect.mapError(notRevoked))
    const count = yield* Revocation.revokeToken({
      ...endpoint.value,
      clientId: settings.clientId ?? settings.assertionIssuer ?? "",
      clientAuth: auth
    }, cached.value).pipe(
      Effect.provideService(HttpClient.HttpClient, client),
      Effect.mapError((error) => notRevoked(Errors.fromHttpError(error, settings)))
    )
    yield* Output.err(
      `${who}: token deleted and revoked (${count === 2 ? "access and refresh token" : "access token"})`
    )
  })
