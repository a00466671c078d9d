/**
 * The options of the `tokenlayer` commands, as `Args.OptionSpec`s: the settings a profile can hold
 * (each also a `TOKENLAYER_*` variable), and the options of the commands themselves.
 *
 * @since 0.1.0
 */
import type * as Args from "./Args.js"

const text = (
  name: string,
  placeholder: string,
  description: string,
  env: boolean | string = true,
  short?: string
): Args.OptionSpec => ({
  name,
  key: name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()),
  short,
  kind: { _tag: "Text" },
  placeholder,
  env: env === false ? undefined : env === true ? `TOKENLAYER_${name.toUpperCase().replace(/-/g, "_")}` : env,
  description
})

const flag = (name: string, description: string, short?: string): Args.OptionSpec => ({
  name,
  key: name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()),
  short,
  kind: { _tag: "Flag" },
  description
})

const choice = (
  name: string,
  placeholder: string,
  choices: ReadonlyArray<string>,
  description: string
): Args.OptionSpec => ({ ...text(name, placeholder, description), kind: { _tag: "Choice", choices } })

const integer = (min: number, max: number): Args.Kind => ({ _tag: "Integer", min, max })

/**
 * The grants the command can use.
 *
 * @since 0.1.0
 * @category constants
 */
export const grantNames = ["client_credentials", "device_code", "jwt_bearer", "token_exchange"] as const

/**
 * The client authentication methods (RFC 7591 names; `basic` and `post` as short names).
 *
 * @since 0.1.0
 * @category constants
 */
export const clientAuthNames = [
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "none",
  "basic",
  "post"
] as const

/**
 * The settings a profile can hold, as options.
 *
 * @since 0.1.0
 * @category options
 */
export const profileOptions: ReadonlyArray<Args.OptionSpec> = [
  choice("grant", "GRANT", grantNames, "client_credentials (default), device_code, jwt_bearer or token_exchange"),
  text("issuer", "URL", "the issuer: its metadata names the endpoints"),
  text("token-url", "URL", "the token endpoint"),
  text("device-authorization-url", "URL", "device_code without an issuer: the device authorization endpoint"),
  text("revocation-url", "URL", "the revocation endpoint (RFC 7009), for logout"),
  text("client-id", "ID", "the client id"),
  choice(
    "client-auth",
    "METHOD",
    clientAuthNames,
    "client_secret_basic (default), client_secret_post, client_secret_jwt, private_key_jwt, none"
  ),
  text("scope", "SCOPES", "space-separated scopes"),
  text("audience", "AUDIENCE", "the audience (Auth0, Okta)"),
  text("buffer", "DURATION", "renew when less than this is left: 30s, 5m, 1h"),
  text("secret-env", "VAR", "the environment variable that holds the secret"),
  text("secret-file", "FILE", "a 0600 file that holds the secret (or the PEM key)"),
  text("key-id", "KID", "jwt_bearer: the kid of the assertions"),
  text("assertion-issuer", "ISS", "jwt_bearer: the iss of the assertions"),
  text("subject", "SUB", "jwt_bearer: the sub of the assertions"),
  text("subject-token-file", "FILE", "token_exchange: the file of the token to trade (re-read each time)"),
  text("subject-token-type", "TYPE", "token_exchange: its type (default urn:ietf:params:oauth:token-type:jwt)"),
  { ...text("retries", "N", "retries of a request that failed transiently, 0 to 10 (default 2)"), kind: integer(0, 10) }
]

/**
 * `--config FILE`.
 *
 * @since 0.1.0
 * @category options
 */
export const config = text("config", "FILE", "the config file (default ~/.config/tokenlayer/config.json)")

/**
 * `--state-dir DIR`.
 *
 * @since 0.1.0
 * @category options
 */
export const stateDir = text("state-dir", "DIR", "the directory of the cached tokens")

/**
 * `--json`.
 *
 * @since 0.1.0
 * @category options
 */
export const json = flag("json", "print JSON")

/**
 * `--verbose`.
 *
 * @since 0.1.0
 * @category options
 */
export const verbose = flag("verbose", "trace the requests on stderr (never a secret or a token)", "v")

/**
 * `--timeout DURATION`: the whole command.
 *
 * @since 0.1.0
 * @category options
 */
export const timeout = text("timeout", "DURATION", "give up after this long: 10s, 1m (default: no limit)")

/**
 * Every option of the commands that talk to a server.
 *
 * @since 0.1.0
 * @category options
 */
export const settingsOptions: ReadonlyArray<Args.OptionSpec> = [
  text("profile", "NAME", "the profile (default: the config file's default)", true, "p"),
  config,
  stateDir,
  ...profileOptions,
  flag("secret-stdin", "read the secret from standard input"),
  timeout,
  verbose
]
