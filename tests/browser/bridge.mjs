// A thin bridge from tests/integration/test_dashboard.py to a headless Debian chromium
// (/usr/bin/chromium) through playwright-core: one JSON command a line on stdin, one JSON answer
// a line on stdout. The test keeps its logic and assertions in Python; this only drives the page.
// Nothing is downloaded: playwright-core comes from `npm ci` here (package-lock.json), the browser
// from Debian.
//
//   {"cmd": "open", "url": U, "width": W, "height": H}  a new page (every request it makes is kept)
//   {"cmd": "eval", "js": "() => ..."}                    the function's value, run in the page
//   {"cmd": "wait", "js": "() => ...", "timeout_ms": T}   until the function returns truthy
//   {"cmd": "click", "selector": S}   {"cmd": "fill", "selector": S, "value": V}
//   {"cmd": "viewport", "width": W, "height": H}   {"cmd": "screenshot", "path": P}
//   {"cmd": "requests"}  every URL the page asked for, in order
//   {"cmd": "problems"}  script errors and console errors (a CSP violation is one)
//   {"cmd": "close"}
// Answers: {"ok": true, "value": ...} or {"ok": false, "error": "..."}.
import {chromium} from "playwright-core";
import readline from "node:readline";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Root in CI and no user namespaces in some sandboxes: chromium's own sandbox cannot start.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let context = null;
let page = null;
const requests = [];
const problems = [];

async function run(command) {
  switch (command.cmd) {
    case "open": {
      if (context) await context.close();
      context = await browser.newContext({viewport: {width: command.width, height: command.height},
                                          colorScheme: command.scheme || "light"});
      page = await context.newPage();
      page.on("request", (request) => requests.push(request.url()));
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      await page.goto(command.url, {waitUntil: "load", timeout: 30000});
      return null;
    }
    case "eval": return await page.evaluate(`(${command.js})()`);
    case "wait": {
      // Polled from here: waitForFunction evaluates a string inside the page, which the page's
      // Content-Security-Policy (no 'unsafe-eval') rightly refuses.
      const deadline = Date.now() + (command.timeout_ms || 10000);
      let value;
      let error = null;
      while (Date.now() < deadline) {
        try {
          value = await page.evaluate(`(${command.js})()`);
          if (value) return value;
        } catch (e) {
          error = e;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`not true within ${command.timeout_ms} ms` +
                      (error ? ` (last error: ${error.message})` : `: ${JSON.stringify(value)}`));
    }
    case "click": await page.click(command.selector, {timeout: 5000}); return null;
    case "fill": await page.fill(command.selector, command.value, {timeout: 5000}); return null;
    case "viewport":
      await page.setViewportSize({width: command.width, height: command.height});
      return null;
    case "screenshot": await page.screenshot({path: command.path}); return null;
    case "requests": return requests;
    case "problems": return problems;
    case "close": await browser.close(); process.exit(0);
  }
  throw new Error(`unknown command ${command.cmd}`);
}

const lines = readline.createInterface({input: process.stdin});
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = {ok: true, value: await run(JSON.parse(line))};
  } catch (error) {
    answer = {ok: false, error: String(error && error.message || error)};
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();
