// Drive `o365mgmt mcp` with the official MCP TypeScript SDK (@modelcontextprotocol/sdk, npm).
//
// usage: node mcp_client.mjs stdio BINARY
//        node mcp_client.mjs http URL TOKEN|-
//
// Run from a directory whose node_modules holds the SDK (the test copies it there). The server
// must be configured (O365_* in the environment) against an emulator with no subscriptions.
// Over stdio the client declares elicitation (confirms one stop, declines another); over HTTP
// it does not. Prints one JSON report; exits 1 naming the failed check.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const CTX = { case_id: "ts-1", alert_group_identifiers: ["g1"] };
const P = "office365_management_api_";
let checks = 0;
const asked = [];
const updated = [];
const logs = [];
let answer = "accept";

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks += 1;
}

async function expectError(p, needle, what) {
  try {
    await p;
  } catch (e) {
    check(String(e.message).includes(needle), `${what}: error mentions ${needle}: ${e.message}`);
    return;
  }
  throw new Error(`${what}: expected an error`);
}

async function exercise(client, elicits) {
  check(client.getServerVersion().name === "o365mgmt", "server names itself o365mgmt");
  const caps = client.getServerCapabilities();
  check(caps.resources?.subscribe && caps.prompts && caps.completions && caps.logging, "capabilities");

  const { tools } = await client.listTools();
  check(tools.length === 6, `six tools, got ${tools.length}`);
  for (const t of tools) {
    check(t.outputSchema?.type === "object", `${t.name} has an outputSchema`);
  }
  check(tools.find((t) => t.name === P + "stop_subscription").annotations.destructiveHint === true, "stop is destructive");

  // The alerts (none made here): the SDK validates the result against the output schema.
  const alerts = await client.callTool({ name: P + "list_alerts", arguments: { limit: 3 } });
  check(Array.isArray(alerts.structuredContent.alerts) && alerts.structuredContent.count === alerts.structuredContent.alerts.length, "list_alerts answers");

  await client.setLoggingLevel("info");
  // callTool validates structuredContent against the tool's outputSchema (ajv) itself.
  let r = await client.callTool({ name: P + "ping", arguments: CTX });
  check(r.structuredContent.result_value === true, `ping: ${r.structuredContent.output_message}`);
  check(JSON.parse(r.content[0].text).status === "Completed", "text carries the result object");
  await new Promise((res) => setTimeout(res, 0));
  check(logs.some((l) => String(l.data).includes("Ping")), "a log message for the ping");

  const { resources } = await client.listResources();
  const uris = resources.map((x) => x.uri);
  for (const u of ["o365://tenants", "o365://default/gaps", "o365://default/collect/status"]) {
    check(uris.includes(u), `resource ${u}`);
  }
  const { resourceTemplates } = await client.listResourceTemplates();
  check(resourceTemplates.some((t) => t.uriTemplate === "o365://{tenant}/journal"), "journal template");
  const tenants = JSON.parse((await client.readResource({ uri: "o365://tenants" })).contents[0].text);
  check(tenants[0].name === "default", "tenants resource");
  await client.subscribeResource({ uri: "o365://default/gaps" });

  const { prompts } = await client.listPrompts();
  check(prompts.length === 3, "three prompts");
  const pr = await client.getPrompt({ name: "switch_on_audit_feeds", arguments: { content_types: "audit.general,DLP.ALL" } });
  check(pr.messages[0].content.text.includes("Audit.General, DLP.All"), "switch-on prompt with the types normalised");
  const c = await client.complete({
    ref: { type: "ref/prompt", name: "switch_on_audit_feeds" },
    argument: { name: "content_types", value: "audit.general,dl" },
  });
  check(c.completion.values.length === 1 && c.completion.values[0] === "audit.general,DLP.All", `list completion ${c.completion.values}`);

  r = await client.callTool({ name: P + "start_subscription", arguments: { ...CTX, start_a_subscription_for: ["Audit.General", "DLP.All"] } });
  check(r.isError === false, "start works");
  answer = "accept";
  r = await client.callTool({ name: P + "stop_subscription", arguments: { ...CTX, stop_a_subscription_for: ["DLP.All"] } });
  check(r.structuredContent.json_result.subscriptions[0].outcome === "stopped", "stop outcome");
  if (elicits) {
    check(asked.length === 1 && asked[0].includes("DLP.All") && asked[0].includes("lost for good"), `asked: ${asked}`);
    await new Promise((res) => setTimeout(res, 0));
    check(updated.includes("o365://default/gaps"), `gaps update notified: ${updated}`);
    answer = "decline";
    r = await client.callTool({ name: P + "stop_subscription", arguments: { ...CTX, stop_a_subscription_for: ["Audit.General"] } });
    check(r.structuredContent.result_value === false && r.structuredContent.output_message.includes("Nothing was stopped"), "declined: nothing stopped");
    const list = await client.callTool({ name: P + "list_subscriptions", arguments: CTX });
    const gen = list.structuredContent.json_result.subscriptions.find((s) => s.contentType === "Audit.General");
    check(gen.status === "enabled", "Audit.General still enabled after the decline");
  } else {
    check(asked.length === 0, "a client without elicitation is not asked");
  }

  await expectError(client.callTool({ name: P + "reboot", arguments: CTX }), "unknown tool", "unknown tool");
  await expectError(client.readResource({ uri: "o365://nobody/gaps" }), "o365://default/", "unknown resource");
  r = await client.callTool({ name: P + "ping", arguments: CTX });
  check(r.structuredContent.result_value === true, "still serving after bad calls");
}

async function main() {
  const [mode, target, token] = process.argv.slice(2);
  const elicits = mode === "stdio";
  const client = new Client(
    { name: "o365mgmt-ts-test", version: "1.0.0" },
    { capabilities: elicits ? { elicitation: {} } : {} },
  );
  if (elicits) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return answer === "accept" ? { action: "accept", content: { confirm: true } } : { action: "decline" };
    });
  }
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
  const transport =
    mode === "stdio"
      ? new StdioClientTransport({ command: target, args: ["mcp"], env: process.env, stderr: "ignore" })
      : new StreamableHTTPClientTransport(new URL(target), {
          requestInit: { headers: token && token !== "-" ? { Authorization: `Bearer ${token}` } : {} },
        });
  await client.connect(transport);
  await exercise(client, elicits);
  await client.close();
  console.log(JSON.stringify({ ok: true, mode, checks }));
}

main().catch((e) => {
  console.error(`FAILED after ${checks} checks: ${e.stack || e}`);
  process.exit(1);
});
