/**
 * The `Config` readers the grant modules share: `TOKEN_URL` or `ISSUER`, `CLIENT_ID`, the secret with
 * `CLIENT_AUTH`, `SCOPE`.
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ClientAuth from "../ClientAuth.js"
import type * as Grant from "../Grant.js"

/** @internal */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * A URL setting, as a string.
 *
 * @internal
 */
export const url = (name: string): Config.Config<string> => Config.url(name).pipe(Config.map((u) => u.toString()))

/**
 * A secret setting, read with `Config.redacted`: an empty value (a variable set to nothing) is refused
 * here, naming the setting, rather than sent.
 *
 * @internal
 */
export const secret = (name: string): Config.Config<Redacted.Redacted<string>> =>
  Config.redacted(name).pipe(
    Config.mapOrFail((s) =>
      Redacted.value(s) === ""
        ? Either.left(ConfigError.InvalidData([name], "Expected a secret, not an empty string"))
        : Either.right(s)
    )
  )

/**
 * `CLIENT_AUTH`: a `ClientAuth.SecretMethod`, `basic` by default.
 *
 * @internal
 */
export const clientAuthMethod: Config.Config<ClientAuth.SecretMethod> = Config.literal(
  "basic",
  "post",
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt"
)("CLIENT_AUTH").pipe(Config.withDefault("basic" as const))

/**
 * `TOKEN_URL` or `ISSUER`; `CLIENT_ID`; `CLIENT_SECRET` (none: a public client) with `CLIENT_AUTH`; `SCOPE`.
 *
 * @internal
 */
export type Common = Grant.TokenEndpointOptions & Grant.ClientAuthOptions & {
  readonly clientId: string
  readonly scope?: string | undefined
}

/** @internal */
export const common: Config.Config<Common> = Config.all({
  tokenUrl: optional(url("TOKEN_URL")),
  issuer: optional(Config.nonEmptyString("ISSUER")),
  clientId: Config.nonEmptyString("CLIENT_ID"),
  clientSecret: optional(secret("CLIENT_SECRET")),
  clientAuth: clientAuthMethod,
  scope: optional(Config.string("SCOPE"))
}).pipe(
  Config.mapOrFail((c): Either.Either<Common, ConfigError.ConfigError> => {
    const auth = c.clientSecret === undefined ? {} : { clientAuth: ClientAuth.fromMethod(c.clientAuth, c.clientSecret) }
    const base = { clientId: c.clientId, ...auth, ...(c.scope === undefined ? {} : { scope: c.scope }) }
    if (c.issuer !== undefined) return Either.right({ ...base, issuer: c.issuer })
    if (c.tokenUrl !== undefined) return Either.right({ ...base, tokenUrl: c.tokenUrl })
    return Either.left(ConfigError.MissingData(["ISSUER"], "Expected ISSUER or TOKEN_URL to be set"))
  })
)
