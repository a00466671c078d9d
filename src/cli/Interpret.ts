/**
 * What a `tokenlayer` command line asks for, found without loading anything but the specs: the help
 * (`--help`, `help <command>`, bare `tokenlayer`), the version, a usage error, or a command with its
 * parsed options. The executable answers the first three before the Effect runtime is loaded.
 *
 * @since 0.1.0
 */
import * as Args from "./Args.js"
import * as Errors from "./Errors.js"
import * as Specs from "./Specs.js"
import { version } from "./Version.js"

/** An unknown command (or an option where a command should be), with the nearest known one. */
const unknown = (first: string, sub: string | undefined): Errors.CliError => {
  const prefix = sub === undefined ? "" : `${first} `
  const known = Specs.all.filter((spec) => sub === undefined ? !spec.path.includes(" ") : spec.path.startsWith(prefix))
    .map((spec) => spec.path.slice(prefix.length))
  const near = Args.closest(sub ?? first, known)
  const what = sub !== undefined
    ? `unknown command 'tokenlayer ${first} ${Errors.oneLine(sub, 60)}'`
    : first.startsWith("-")
    ? `unknown option '${Errors.oneLine(first.split("=")[0]!, 60)}'${
      first.includes("=") ? " (its value is not shown)" : ""
    }`
    : `unknown command '${Errors.oneLine(first, 60)}'`
  return Errors.usage(
    `${what}${near === undefined ? "" : ` (did you mean ${prefix}${near}?)`}; see tokenlayer ${prefix}--help`
  )
}

/**
 * What the command line asks for: a help text (on stdout, or on stderr with exit 2), a command, or a
 * usage error.
 *
 * @since 0.1.0
 * @category models
 */
export type Request =
  | { readonly _tag: "Print"; readonly text: string; readonly code: number }
  | { readonly _tag: "Run"; readonly spec: Args.Spec; readonly parsed: Args.Parsed }
  | { readonly _tag: "Fail"; readonly error: Errors.CliError }

const isHelp = (arg: string): boolean => arg === "--help" || arg === "-h"

/**
 * What `args` (the arguments after `tokenlayer`) ask for. Bare `tokenlayer` (or `tokenlayer profile`)
 * is a usage error that shows the usage; `--help` anywhere before `--` shows the command's help.
 *
 * @since 0.1.0
 * @category parsing
 */
export const interpret = (args: ReadonlyArray<string>): Request => {
  const main = Args.mainHelp(Specs.all)
  const first = args[0]
  if (first === undefined) return { _tag: "Print", text: main, code: Errors.ExitCode.usage }
  if (first === "help" && args[1] !== undefined) return interpret([...args.slice(1), "--help"])
  if (isHelp(first) || first === "help") return { _tag: "Print", text: main, code: 0 }
  if (first === "--version" || first === "-V") return { _tag: "Print", text: `tokenlayer ${version}`, code: 0 }
  const group = Specs.all.filter((spec) => spec.path.startsWith(`${first} `))
  const path = group.length > 0 && args[1] !== undefined && !args[1].startsWith("-") ? `${first} ${args[1]}` : first
  const spec = Specs.all.find((candidate) => candidate.path === path)
  if (spec === undefined) return { _tag: "Fail", error: unknown(first, group.length > 0 ? args[1] ?? "" : undefined) }
  const rest = args.slice(path.split(" ").length)
  const end = rest.indexOf("--")
  if ((end === -1 ? rest : rest.slice(0, end)).some(isHelp)) {
    return {
      _tag: "Print",
      text: group.length > 0 && spec.path === first ? Args.groupHelp(spec, group) : Args.commandHelp(spec),
      code: 0
    }
  }
  if (group.length > 0 && spec.path === first) {
    return { _tag: "Print", text: Args.groupHelp(spec, group), code: Errors.ExitCode.usage }
  }
  const parsed = Args.parse(spec, rest)
  return parsed instanceof Errors.CliError ? { _tag: "Fail", error: parsed } : { _tag: "Run", spec, parsed }
}
