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
import * as TokenSource from "../TokenSource.js"
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

/** `scope` and `audience` when the settings have them. */
const scopeAudience = (settings: Settings) => ({
  ...(settings.scope === undefined ? {} : { scope: settings.scope }),
  ...(settings.audience === undefined ? {} : { audience: settings.audience })
})

/** The client credentials grant's options without its secret: what its key is made of. */
const clientCredentialsKeyOptions = (settings: Settings) => ({
  ...endpointOptions(settings),
  clientId: settings.clientId!,
  ...scopeAudience(settings)
})

/** The device grant's endpoints: the issuer's metadata, unless both URLs are given. */
const deviceEndpoints = (settings: Settings): Grant.DeviceEndpointOptions =>
  settings.issuer !== undefined && (settings.tokenUrl === undefined || settings.deviceAuthorizationUrl === undefined)
    ? { issuer: settings.issuer }
    : { tokenUrl: settings.tokenUrl!, deviceAuthorizationUrl: settings.deviceAuthorizationUrl! }

const deviceKeyOptions = (settings: Settings) => ({
  ...deviceEndpoints(settings),
  clientId: settings.clientId!,
  ...scopeAudience(settings)
})

/** The JWT bearer grant's options without its key. */
const jwtBearerKeyOptions = (settings: Settings) => ({
  tokenUrl: settings.tokenUrl!,
  issuer: settings.assertionIssuer!,
  ...(settings.subject === undefined ? {} : { subject: settings.subject }),
  ...scopeAudience(settings)
})

/** Token exchange's options without its client authentication: what its key is made of. */
const tokenExchangeOptions = (settings: Settings) => ({
  ...endpointOptions(settings),
  ...(settings.clientId === undefined ? {} : { clientId: settings.clientId }),
  subject: TokenSource.file(settings.subjectTokenFile!, {
    tokenType: settings.subjectTokenType ?? TokenSource.TokenType.jwt
  }),
  ...scopeAudience(settings)
})

/**
 * The key of the settings' grant (`Grant.clientCredentialsKey`, ...): where its token is cached, found
 * without a secret and without building the grant (`status`, `logout`, `profile remove`).
 *
 * @since 0.1.0
 * @category grants
 */
export const keyOf = (settings: Settings): string => {
  switch (settings.grant) {
    case "client_credentials":
      return Grant.clientCredentialsKey(clientCredentialsKeyOptions(settings))
    case "device_code":
      return Grant.deviceCodeKey(deviceKeyOptions(settings))
    case "jwt_bearer":
      return Grant.jwtBearerKey(jwtBearerKeyOptions(settings))
    case "token_exchange":
      return Grant.TokenExchange.key(tokenExchangeOptions(settings))
  }
}

/**
 * The device prompt given to the grant.
 *
 * @since 0.1.0
 * @category models
 */
export type Prompt = (authorization: Grant.DeviceAuthorization) => Effect.Effect<void>

const noPrompt: Prompt = () => Effect.void

/**
 * The grant of the settings, as a value, over the given client, with the secret (or the signing key)
 * the settings need.
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
        return Grant.makeClientCredentials({ ...clientCredentialsKeyOptions(settings), clientAuth: auth }, client)
      case "device_code":
        return Grant.makeDeviceCode({ ...deviceKeyOptions(settings), clientAuth: auth, prompt }, client)
      case "token_exchange":
        return Grant.TokenExchange.makeWith({ ...tokenExchangeOptions(settings), clientAuth: auth }, client)
      case "jwt_bearer": {
        if (Option.isNone(secret)) {
          return yield* Effect.fail(Errors.config(`profile ${settings.profile}: the jwt_bearer grant needs its key`))
        }
        const key = secret.value
        return yield* Grant.makeJwtBearer({
          ...jwtBearerKeyOptions(settings),
          ...(settings.keyId === undefined ? {} : { keyId: settings.keyId }),
          ...(isPem(key) ? { privateKey: key } : { secret: key })
        }, client).pipe(
          Effect.mapError((error) =>
            Errors.config(
              `profile ${settings.profile}: the signing key cannot sign (${Errors.oneLine(error.reason, 150)})`
            )
          )
        )
      }
    }
  })
