/**
 * The parts of the `tokenlayer` command that need no process: durations as people write them, the
 * status bar and times, the exit code and one-line message of each token request failure, and the QR
 * code of the device flow (drawn only on a terminal, so not seen by the child-process tests).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { TokenError } from "tokenlayer"
import * as Errors from "../src/cli/Errors.js"
import * as Output from "../src/cli/Output.js"
import * as Qr from "../src/cli/Qr.js"
import * as Settings from "../src/cli/Settings.js"

describe("endpoint URLs", () => {
  it("what is wrong, never the password, even in a mistyped URL", () => {
    assert.isUndefined(Settings.urlProblem("token URL", "https://auth.example.com/token"))
    assert.match(Settings.urlProblem("token URL", "ftp://auth.example.com/token")!, /is not an http\(s\) URL/)
    assert.match(Settings.urlProblem("token URL", "auth example")!, /'?auth example'? is not an http\(s\) URL/)
    for (const value of ["https://app:s3cret@auth.example.com/token", "https//app:s3cret@auth.example.com/token"]) {
      const problem = Settings.urlProblem("token URL", value)!
      assert.isString(problem, value)
      assert.notInclude(problem, "s3cret")
    }
  })
})

describe("durations", () => {
  it("as people write them", () => {
    const parse = (text: string, negative = false) => Option.getOrUndefined(Settings.parseDuration(text, negative))
    assert.strictEqual(parse("300"), 300_000)
    assert.strictEqual(parse("30s"), 30_000)
    assert.strictEqual(parse("5m"), 300_000)
    assert.strictEqual(parse("5 minutes"), 300_000)
    assert.strictEqual(parse("1h30m"), 5_400_000)
    assert.strictEqual(parse("1h 30m 15s"), 5_415_000)
    assert.strictEqual(parse("250ms"), 250)
    assert.strictEqual(parse("-10m", true), -600_000)
    for (const bad of ["", "soon", "5 parsecs", "-10m", "1e3", "m5"]) assert.isUndefined(parse(bad), bad)
  })

  it("for people, and as a countdown", () => {
    assert.strictEqual(Output.formatDuration(3_600_000), "1h")
    assert.strictEqual(Output.formatDuration(3_599_400), "59m 59s")
    assert.strictEqual(Output.formatDuration(3_780_000), "1h 3m")
    assert.strictEqual(Output.formatDuration(12_000), "12s")
    assert.strictEqual(Output.formatDuration(-5), "0s")
    assert.strictEqual(Output.formatDuration(90_000_000), "1d 1h")
    assert.strictEqual(Output.formatClock(599_001), "10:00")
    assert.strictEqual(Output.formatClock(61_000), "1:01")
    assert.strictEqual(Output.formatClock(3_661_000), "1:01:01")
  })

  it("the remaining lifetime as a bar", () => {
    assert.strictEqual(Output.bar(0.5, 10), "[█████░░░░░]")
    assert.strictEqual(Output.bar(1, 4), "[████]")
    assert.strictEqual(Output.bar(-1, 4), "[░░░░]")
    assert.strictEqual(Output.bar(Number.NaN, 4), "[░░░░]")
  })
})

describe("token request failures: exit code and message", () => {
  const context = { profile: "iceye" }
  const kind = (error: TokenError.HttpError) => Errors.fromHttpError(error, context).kind

  it("by kind", () => {
    assert.strictEqual(
      kind(new TokenError.HttpError({ reason: "Transport", detail: "no answer: ECONNREFUSED" })),
      "unavailable"
    )
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Timeout" })), "unavailable")
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Status", status: 503 })), "unavailable")
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Status", status: 429 })), "unavailable")
    assert.strictEqual(
      kind(new TokenError.HttpError({ reason: "Status", status: 400, error: "temporarily_unavailable" })),
      "unavailable"
    )
    assert.strictEqual(
      kind(new TokenError.HttpError({ reason: "Status", status: 401, error: "invalid_client" })),
      "refused"
    )
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Status", status: 403 })), "refused")
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Status", status: 404, error: "not_found" })), "config")
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Decode", detail: "not JSON" })), "config")
    assert.strictEqual(kind(new TokenError.HttpError({ reason: "Status", error: "login_required" })), "login")
    assert.deepStrictEqual(
      Object.entries(Errors.ExitCode),
      [["success", 0], ["unexpected", 1], ["usage", 2], ["config", 3], ["refused", 4], ["unavailable", 5], ["login", 6]]
    )
  })

  it("what the server said, on one line, its terminal escapes escaped", () => {
    const error = Errors.fromHttpError(
      new TokenError.HttpError({
        reason: "Status",
        status: 400,
        url: "https://auth.example.com/token",
        error: "invalid_grant",
        errorDescription: "refresh token\r\nrevoked \u001b[31mred\u001b[0m"
      }),
      context
    )
    assert.strictEqual(error.exitCode, 4)
    assert.strictEqual(
      error.text,
      "profile iceye: the server refused at https://auth.example.com/token: 400: invalid_grant " +
        "(refresh token\\x0d\\x0arevoked \\x1b[31mred\\x1b[0m); the grant was refused (a revoked or expired login, a " +
        "refused assertion): " +
        "run tokenlayer login"
    )
    // escaped, not dropped: the user sees what the server tried
    assert.strictEqual(Errors.oneLine("a\u0007b\u001b]0;title\u0007c"), "a\\x07b\\x1b]0;title\\x07c")
  })
})

describe("the QR code of the device flow", () => {
  it.effect("drawn with half blocks, dark on light", () =>
    Effect.gen(function*() {
      const drawn = yield* Qr.render("https://auth.example.com/device?user_code=BCDF-GHJK")
      assert.isTrue(Option.isSome(drawn))
      const lines = Option.getOrThrow(drawn).trimEnd().split("\n")
      assert.isAtLeast(lines.length, 12)
      assert.match(lines[1]!, /[█▀▄]/)
      assert.include(lines[0]!, "\u001b[47m")
    }))

  it.effect("None when the text cannot be a QR code", () =>
    Effect.map(Qr.render("x".repeat(5000)), (drawn) => assert.isTrue(Option.isNone(drawn))))
})
