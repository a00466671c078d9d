#!/usr/bin/env node
/**
 * The `tokenlayer` executable (`bin` in package.json, compiled to `dist/cli/main.js`).
 *
 * ```sh
 * curl -H "$(tokenlayer header --profile iceye)" https://platform.example/api/company/v1/contracts
 * TOKEN=$(tokenlayer token --profile thingpark)
 * ```
 *
 * Exits with the code `Commands.run` answers: 0 on success, see `Errors.ExitCode` for the rest.
 * `--version` is answered before anything is loaded, the help and usage errors before the Effect runtime
 * is; the rest is loaded with `import()`, each command's own parts only when it runs (see `Commands`).
 *
 * @since 0.1.0
 */
import { version } from "./Version.js"

// a reader that stops early (`tokenlayer status | head -1`) is not an error
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
    throw error
  })
}

const start = async () => {
  // help, the usage and a bad command line: answered without the Effect runtime
  const [Interpret, Sanitize] = await Promise.all([import("./Interpret.js"), import("./Sanitize.js")])
  const request = Interpret.interpret(process.argv.slice(2))
  if (request._tag === "Print") {
    const stream = request.code === 0 ? process.stdout : process.stderr
    stream.write(`${request.text}\n`)
    process.exitCode = request.code
    return
  }
  if (request._tag === "Fail") {
    process.stderr.write(`tokenlayer: ${Sanitize.escape(request.error.text)}\n`)
    process.exitCode = request.error.exitCode
    return
  }
  const [NodeFileSystem, NodeRuntime, FetchHttpClient, Effect, Exit, Layer, Commands] = await Promise.all([
    import("@effect/platform-node/NodeFileSystem"),
    import("@effect/platform-node/NodeRuntime"),
    import("@effect/platform/FetchHttpClient"),
    import("effect/Effect"),
    import("effect/Exit"),
    import("effect/Layer"),
    import("./Commands.js")
  ])
  // the fetch client: one request per run, and it starts faster than undici from node_modules
  const program = Commands.run(process.argv).pipe(
    Effect.provide(Layer.merge(NodeFileSystem.layer, FetchHttpClient.layer))
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) {
        // let stdout and stderr drain, then exit with the code
        process.exitCode = typeof exit.value === "number" ? exit.value : 1
        onExit(0)
      } else {
        onExit(130)
      }
    }
  })
}

const first = process.argv[2]
if (first === "--version" || first === "-V") {
  process.stdout.write(`tokenlayer ${version}\n`)
} else {
  void start()
}
