/**
 * The grant and the client authentication of a command's settings, built on the library's public API.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ClientAuth from "../ClientAuth.js"
import * as Grant from "../Grant.js"
import * as JwtBearer from "../internal/jwtBearer.js"
import * as Errors from "./Errors.js"
import type { Settings } from "./Settings.js"

// -----------------------------------------------------------------------------
// grants
// -----------------------------------------------------------------------------

const endpointOptions = (settings: Settings): Grant.TokenEndpointOptions =>
  settings.tokenUrl !== undefined ? { tokenUrl: settings.tokenUrl } : { issuer: settings.issuer! }

const isPem = (secret: Redacted.Redacted<string>): boolean =>
  Redacted.value(secret).trimStart().startsWith("-----BEGIN")

/**
 * The client authentication of the settings, with the secret (or the private key, for private_key_jwt).
 *
 * @since 0.1.0
 * @category grants
 */
export const clientAuth = (
  settings: Settings,
  secret: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<ClientAuth.ClientAuth, Errors.CliError> => {
  if (settings.clientAuth === "none") return Effect.succeed(ClientAuth.none)
  if (Option.isNone(secret)) return Effect.succeed(ClientAuth.none)
  switch (settings.clientAuth) {
    case "client_secret_basic":
      return Effect.succeed(ClientAuth.basic(secret.value))
    case "client_secret_post":
      return Effect.succeed(ClientAuth.post(secret.value))
    case "client_secret_jwt":
      return Effect.succeed(ClientAuth.clientSecretJwt(secret.value))
    case "private_key_jwt":
      return ClientAuth.privateKeyJwt({ privateKey: secret.value }).pipe(
        Effect.mapError((error) =>
          Errors.config(
            `profile ${settings.profile}: the private key cannot sign (${Errors.oneLine(error.reason, 150)})`
          )
        )
      )
  }
}

const jwtBearerOptions = (
  settings: Settings,
  secret: Redacted.Redacted<string>
): Grant.JwtBearerOptions => ({
  tokenUrl: settings.tokenUrl!,
  issuer: settings.assertionIssuer!,
  ...(settings.subject === undefined ? {} : { subject: settings.subject }),
  ...(settings.audience === undefined ? {} : { audience: settings.audience }),
  ...(settings.keyId === undefined ? {} : { keyId: settings.keyId }),
  ...(settings.scope === undefined ? {} : { scope: settings.scope }),
  ...(isPem(secret) ? { privateKey: secret } : { secret })
})

/**
 * The device prompt given to the grant.
 *
 * @since 0.1.0
 * @category models
 */
export type Prompt = (authorization: Grant.DeviceAuthorization) => Effect.Effect<void>

const noPrompt: Prompt = () => Effect.void

/**
 * The grant of the settings, as a value, over the given client. Without a secret (`None`), a grant whose
 * only use is its `key` (no request is made to build it).
 *
 * @since 0.1.0
 * @category grants
 */
export const makeGrant = (
  settings: Settings,
  secret: Option.Option<Redacted.Redacted<string>>,
  client: HttpClient.HttpClient,
  prompt: Prompt = noPrompt
): Effect.Effect<Grant.Service, Errors.CliError> =>
  Effect.gen(function*() {
    const auth = yield* clientAuth(settings, secret)
    switch (settings.grant) {
      case "client_credentials":
        return Grant.makeClientCredentials({
          ...endpointOptions(settings),
          clientId: settings.clientId!,
          clientAuth: auth,
          ...(settings.scope === undefined ? {} : { scope: settings.scope }),
          ...(settings.audience === undefined ? {} : { audience: settings.audience })
        }, client)
      case "device_code": {
        const endpoints: Grant.DeviceEndpointOptions = settings.issuer !== undefined &&
            (settings.tokenUrl === undefined || settings.deviceAuthorizationUrl === undefined)
          ? { issuer: settings.issuer }
          : { tokenUrl: settings.tokenUrl!, deviceAuthorizationUrl: settings.deviceAuthorizationUrl! }
        return Grant.makeDeviceCode({
          ...endpoints,
          clientId: settings.clientId!,
          clientAuth: auth,
          ...(settings.scope === undefined ? {} : { scope: settings.scope }),
          ...(settings.audience === undefined ? {} : { audience: settings.audience }),
          prompt
        }, client)
      }
      case "jwt_bearer": {
        if (Option.isNone(secret)) {
          // the key only: no signer is built
          const options = jwtBearerOptions(settings, Redacted.make("-"))
          return {
            key: Grant.makeKey(JwtBearer.grantType, JwtBearer.keyParts(options)),
            request: () => Effect.dieMessage("a grant built without its key cannot request tokens")
          }
        }
        return yield* Grant.makeJwtBearer(jwtBearerOptions(settings, secret.value), client).pipe(
          Effect.mapError((error) =>
            Errors.config(
              `profile ${settings.profile}: the signing key cannot sign (${Errors.oneLine(error.reason, 150)})`
            )
          )
        )
      }
    }
  })

/**
 * What a profile's settings say, for `status` and `profile list` (never a secret).
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeEndpoint = (settings: Settings): string => settings.tokenUrl ?? settings.issuer ?? "(no token URL)"
