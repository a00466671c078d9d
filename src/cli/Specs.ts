/**
 * What each `tokenlayer` command accepts and says about itself (`Args.Spec`): kept apart from what
 * the commands do, so that parsing a command line and printing help load nothing else.
 *
 * @since 0.1.0
 */
import type * as Args from "./Args.js"
import * as Options from "./Options.js"

const settings = Options.settingsOptions

/**
 * @since 0.1.0
 * @category commands
 */
export const token: Args.Spec = {
  path: "token",
  summary: "Print a valid access token, and nothing else",
  description: "Print a valid access token on stdout, and nothing else: the cached one, renewed when it is " +
    "due (a due token is still printed, with a warning, while the server cannot renew it).",
  options: settings,
  examples: [
    "TOKEN=$(tokenlayer token -p api)",
    "TOKENLAYER_TOKEN_URL=https://auth.example.com/token TOKENLAYER_CLIENT_ID=app \\\n" +
    "    TOKENLAYER_CLIENT_SECRET=... tokenlayer token --scope read"
  ]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const header: Args.Spec = {
  path: "header",
  summary: "Print the header of a valid token: Authorization: Bearer ...",
  description: "Print the HTTP header that carries a valid access token, for curl -H.",
  options: settings,
  examples: ["curl -H \"$(tokenlayer header -p api)\" https://api.example.com/things"]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const status: Args.Spec = {
  path: "status",
  summary: "Show the cached token: grant, scope, times, remaining life (never the token)",
  description: "Show the profile's settings and its cached token: grant, scope, when it was issued, when it " +
    "is renewed and expires, how much is left (never the token). Exits 6 when no valid token is cached.",
  options: [...settings, Options.json],
  examples: ["tokenlayer status -p api", "tokenlayer status --json | jq .remainingSeconds"]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const login: Args.Spec = {
  path: "login",
  summary: "Log in with the device flow (other grants: get a new token now)",
  description: "Log in with the device flow: shows a URL and a code (and a QR code on a terminal) to " +
    "approve in a browser, waits for the approval, and caches the token. For the other grants, gets a new " +
    "token now.",
  options: settings,
  examples: ["tokenlayer login -p github"]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const logout: Args.Spec = {
  path: "logout",
  summary: "Delete the cached token, and revoke it where the server can",
  description: "Delete the cached token, and revoke it (RFC 7009) when the profile names a revocation " +
    "endpoint or the issuer's metadata publishes one.",
  options: settings,
  examples: ["tokenlayer logout -p github"]
}

const profileAddOptions: ReadonlyArray<Args.OptionSpec> = [
  Options.config,
  ...Options.profileOptions,
  {
    name: "secret-stdin",
    key: "secretStdin",
    kind: { _tag: "Flag" },
    description: "read the secret from standard input and keep it in a 0600 file next to the config"
  },
  { name: "default", key: "makeDefault", kind: { _tag: "Flag" }, description: "make it the default profile" },
  { name: "force", key: "force", kind: { _tag: "Flag" }, description: "replace a profile of the same name" }
]

/**
 * @since 0.1.0
 * @category commands
 */
export const profile: Args.Spec = {
  path: "profile",
  summary: "Add, list or remove the profiles of the config file",
  description: "Manage the profiles of the config file: tokenlayer profile add | list | remove.",
  options: [],
  examples: ["tokenlayer profile list"]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const profileAdd: Args.Spec = {
  path: "profile add",
  summary: "Add a profile",
  description: "Add a profile to the config file. A profile names where its secret is (--secret-env, " +
    "--secret-file, --secret-stdin), never the secret itself.",
  args: [{ name: "name", description: "the profile's name: letters, digits, ., _ and - (at most 64)" }],
  options: profileAddOptions,
  examples: [
    "tokenlayer profile add api --token-url https://auth.example.com/token --client-id app \\\n" +
    "    --secret-env API_SECRET --scope read --default"
  ]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const profileList: Args.Spec = {
  path: "profile list",
  summary: "List the profiles (* marks the default)",
  options: [Options.config, Options.json],
  examples: ["tokenlayer profile list"]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const profileRemove: Args.Spec = {
  path: "profile remove",
  summary: "Remove a profile, its cached token and the secret file profile add kept",
  args: [{ name: "name", description: "the profile's name" }],
  options: [Options.config, Options.stateDir],
  examples: ["tokenlayer profile remove api"]
}

/**
 * @since 0.1.0
 * @category commands
 */
export const devServer: Args.Spec = {
  path: "dev-server",
  summary: "Run a local authorization server to try the commands with",
  description: "Run tokenlayer's test authorization server (AuthServer) on 127.0.0.1 until Ctrl-C, with " +
    "one client, and print the settings to use it with. Tokens it issues are good for its own API only.",
  options: [
    {
      name: "port",
      key: "port",
      kind: { _tag: "Integer", min: 0, max: 65535 },
      placeholder: "N",
      description: "the port (default: a free one)"
    },
    {
      name: "token-lifetime",
      key: "tokenLifetime",
      kind: { _tag: "Text" },
      placeholder: "DURATION",
      description: "how long its tokens live (default 1h)"
    }
  ],
  examples: [
    "tokenlayer dev-server --port 8400 &",
    "TOKENLAYER_TOKEN_URL=http://127.0.0.1:8400/token TOKENLAYER_CLIENT_ID=dev-client \\\n" +
    "    TOKENLAYER_CLIENT_SECRET=<as printed> tokenlayer token"
  ]
}

/**
 * Every command, in the order the help lists them.
 *
 * @since 0.1.0
 * @category commands
 */
export const all: ReadonlyArray<Args.Spec> = [
  token,
  header,
  status,
  login,
  logout,
  profile,
  profileAdd,
  profileList,
  profileRemove,
  devServer
]
