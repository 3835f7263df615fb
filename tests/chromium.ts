/**
 * A small Chrome DevTools Protocol client for the browser tests: starts a system Chromium
 * (Debian's `chromium-headless-shell` or `chromium`) on a fresh profile, talks to it over Deno's
 * WebSocket, and always kills it on `close()`.
 */

/**
 * The Chromium binaries tried, by absolute path: Debian's `chromium-headless-shell` and `chromium`
 * packages install them here (the `/usr/bin` names are shell scripts that do not `exec`, so killing
 * them would leave the browser running). `EMOJI_CHROMIUM` names another one.
 */
export const CHROMIUM_PATHS = ["/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"];

/** The first Chromium installed that this process may run, or null (the browser tests then skip). */
export function findChromium(): string | null {
  let own: string | undefined;
  try {
    own = Deno.env.get("EMOJI_CHROMIUM");
  } catch {
    own = undefined;
  }
  for (const path of own ? [own] : CHROMIUM_PATHS) {
    if (Deno.permissions.querySync({ name: "run", command: path }).state !== "granted") continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not installed
    }
  }
  return null;
}

/** The flags every run uses on this machine (no GPU, no network chatter, a throwaway profile). */
export const BASE_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--remote-debugging-port=0",
];

/** A page target to evaluate JavaScript in. */
export interface Page {
  /** Evaluates an expression (awaiting a promise) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Sends a raw CDP command to the page. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** A running Chromium. */
export interface Browser {
  /** Opens `url` in a new tab. */
  open(url: string, viewport?: { width: number; height: number }): Promise<Page>;
  /** Kills the browser and removes its profile. Safe to call twice. */
  close(): Promise<void>;
}

/** Starts Chromium with `BASE_FLAGS` plus `extra` and connects to it. */
export async function launchChromium(command: string, extra: string[]): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "emoji-chromium-" });
  const child = new Deno.Command(command, {
    args: [...BASE_FLAGS, ...extra, `--user-data-dir=${profile}`, "about:blank"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let closed = false;
  let ws: WebSocket | null = null;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      ws?.close();
    } catch { /* already closed */ }
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const deadline = Date.now() + 30_000;
    let endpoint: string | null = null;
    while (!endpoint) {
      if (Date.now() > deadline) throw new Error(`Chromium did not start: ${text.slice(-500)}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`Chromium exited: ${text.slice(-500)}`);
      text += value;
      endpoint = text.match(/DevTools listening on (ws:\/\/\S+)/)?.[1] ?? null;
    }
    // keep draining stderr so the browser never blocks on a full pipe
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch { /* closed */ }
    })();
    ws = new WebSocket(endpoint);
    await new Promise((resolve, reject) => {
      ws!.onopen = resolve;
      ws!.onerror = () => reject(new Error("could not connect to Chromium's DevTools"));
    });
    let nextId = 1;
    const pending = new Map<
      number,
      { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
    >();
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      const p = msg.id ? pending.get(msg.id) : undefined;
      if (!p) return;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${msg.error.message} ${msg.error.data ?? ""}`.trim()));
      else p.resolve(msg.result);
    };
    ws.onclose = () => {
      for (const p of pending.values()) p.reject(new Error("Chromium closed the DevTools connection"));
      pending.clear();
    };
    const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        ws!.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
      });
    return {
      close,
      async open(url, viewport) {
        const { targetId } = await send("Target.createTarget", { url: "about:blank" });
        const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true }) as {
          sessionId: string;
        };
        const page: Page = {
          send: (method, params) => send(method, params, sessionId),
          async evaluate<T>(expression: string): Promise<T> {
            const r = await send(
              "Runtime.evaluate",
              { expression, awaitPromise: true, returnByValue: true },
              sessionId,
            );
            if (r.exceptionDetails) {
              const d = r.exceptionDetails as { text: string; exception?: { description?: string } };
              throw new Error(`in the page: ${d.exception?.description ?? d.text}`);
            }
            return (r.result as { value: T }).value;
          },
        };
        if (viewport) {
          await page.send("Emulation.setDeviceMetricsOverride", {
            ...viewport,
            deviceScaleFactor: 1,
            mobile: false,
          });
        }
        await page.send("Page.enable");
        await page.send("Page.navigate", { url });
        return page;
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Polls `emojiPage.state` until the page is done or has failed (or `ms` pass). */
export async function waitForPage(page: Page, ms: number): Promise<{ state: string; error?: string }> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await page.evaluate<{ state: string; error?: string } | null>(
      "globalThis.emojiPage ? { state: emojiPage.state, error: emojiPage.error } : null",
    ).catch(() => null);
    if (s && (s.state === "done" || s.state === "error")) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the page did not finish within ${ms / 1000} s`);
}
