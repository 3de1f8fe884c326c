"""Drive `o365mgmt mcp` with the official MCP Python SDK (the `mcp` package).

usage: mcp_client.py stdio BINARY
       mcp_client.py http URL TOKEN|-

Over stdio the client declares elicitation (it confirms one stop and declines another); over HTTP
it does not (the stop goes ahead, as for any client that cannot ask its user).

The server must be configured (O365_* in the environment) against an emulator with no
subscriptions. Prints one JSON report on stdout; exits 1 with the failed check on stderr.
"""

import asyncio
import json
import os
import sys

import jsonschema
from pydantic import AnyUrl

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

CTX = {"case_id": "4711", "alert_group_identifiers": ["g1"]}
checks = []
# What the elicitation callback answers, and what it was asked.
answers = {"next": "accept"}
asked = []
notifications = []
logs = []


async def on_elicit(context, params):
    asked.append(params.message)
    if answers["next"] == "accept":
        return types.ElicitResult(action="accept", content={"confirm": True})
    return types.ElicitResult(action="decline")


async def on_message(message):
    if isinstance(message, types.ServerNotification):
        notifications.append(message.root)


async def on_log(params):
    logs.append(params)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    checks.append(what)


TOOL_SCHEMAS = {}


def structured(res, tool=None):
    check(res.structuredContent is not None, "result has structured content")
    for name, schema in TOOL_SCHEMAS.items():
        if tool is None or tool == name:
            jsonschema.validate(res.structuredContent, schema)
            break
    text = json.loads(res.content[0].text)
    check(text == res.structuredContent, "text content carries the same result object")
    return res.structuredContent


async def expect_protocol_error(session, name, args, needle):
    try:
        await session.call_tool(name, args)
    except McpError as e:
        check(needle in str(e.error.message), f"{name}: protocol error mentions {needle!r}: {e.error.message}")
        return
    raise AssertionError(f"{name} {args}: expected an MCP error")


async def resources_prompts_and_more(session, elicits):
    caps = session.get_server_capabilities()
    check(caps.resources is not None and caps.resources.subscribe, "resources with subscriptions")
    check(caps.prompts is not None and caps.completions is not None and caps.logging is not None,
          "prompts, completions and logging declared")
    res = {str(r.uri): r for r in (await session.list_resources()).resources}
    check({"o365://tenants", "o365://default/subscriptions", "o365://default/gaps",
           "o365://default/journal", "o365://default/collect/status"} <= set(res), f"resources {sorted(res)}")
    check(all(r.description and r.mimeType == "application/json" for r in res.values()), "each resource described, JSON")
    tpl = {t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates}
    check(tpl == {"o365://{tenant}/subscriptions", "o365://{tenant}/gaps", "o365://{tenant}/journal",
                  "o365://{tenant}/collect/status", "o365://{tenant}/alerts"}, f"templates {tpl}")
    tenants = json.loads((await session.read_resource(AnyUrl("o365://tenants"))).contents[0].text)
    check(tenants[0]["name"] == "default" and tenants[0]["cloud"] == "commercial", f"tenants {tenants}")
    status = json.loads((await session.read_resource(AnyUrl("o365://default/collect/status"))).contents[0].text)
    check(len(status["types"]) == 5, "collect status has the five content types")
    try:
        await session.read_resource(AnyUrl("o365://nobody/gaps"))
        raise AssertionError("reading an unknown tenant's resource must fail")
    except McpError as e:
        check("o365://default/" in e.error.message, f"unknown resource names what exists: {e.error.message}")
    await session.subscribe_resource(AnyUrl("o365://default/gaps"))

    prompts = {p.name: p for p in (await session.list_prompts()).prompts}
    check(set(prompts) == {"check_audit_feed_health", "switch_on_audit_feeds", "investigate_data_gap"}, f"prompts {sorted(prompts)}")
    check(any(a.name == "content_type" and a.required for a in prompts["investigate_data_gap"].arguments), "gap prompt requires content_type")
    got = await session.get_prompt("check_audit_feed_health", {"tenant": "default"})
    text = got.messages[0].content.text
    check("office365_management_api_ping" in text and "o365://default/gaps" in text, "health prompt names the tools and resources")
    got = await session.get_prompt("investigate_data_gap", {"content_type": "dlp.all"})
    check("DLP.All" in got.messages[0].content.text, "gap prompt normalises the content type")
    try:
        await session.get_prompt("investigate_data_gap", {})
        raise AssertionError("a missing required prompt argument must fail")
    except McpError as e:
        check("content_type" in e.error.message, "missing prompt argument named")
    c = await session.complete(types.PromptReference(type="ref/prompt", name="investigate_data_gap"),
                               {"name": "content_type", "value": "Audit.Ex"})
    check(c.completion.values == ["Audit.Exchange"], f"content type completion {c.completion.values}")
    c = await session.complete(types.PromptReference(type="ref/prompt", name="check_audit_feed_health"),
                               {"name": "tenant", "value": ""})
    check(c.completion.values == ["default"], f"tenant completion {c.completion.values}")
    c = await session.complete(types.ResourceTemplateReference(type="ref/resource", uri="o365://{tenant}/gaps"),
                               {"name": "tenant", "value": "de"})
    check(c.completion.values == ["default"], "template tenant completion")
    await session.set_logging_level("info")


async def exercise(session, elicits=False):
    init = await session.initialize()
    check(init.serverInfo.name == "o365mgmt", "server names itself o365mgmt")
    await resources_prompts_and_more(session, elicits)

    tools = {t.name: t for t in (await session.list_tools()).tools}
    for name, t in tools.items():
        check(t.outputSchema is not None and t.outputSchema["type"] == "object", f"{name} declares an outputSchema")
        jsonschema.Draft202012Validator.check_schema(t.outputSchema)
        TOOL_SCHEMAS[name] = t.outputSchema
    p = "office365_management_api_"
    check(
        set(tools) == {p + "ping", p + "start_subscription", p + "stop_subscription",
                       p + "list_subscriptions", p + "list_content", p + "list_alerts"},
        f"tool names: {sorted(tools)}",
    )
    for name, t in tools.items():
        if name == p + "list_alerts":
            continue  # not an action of the integration: no case context
        props = t.inputSchema["properties"]
        check(props["case_id"]["type"] == "string", f"{name}: case_id is a string")
        check(props["alert_group_identifiers"] == {"type": "array", "items": {"type": "string"},
                                                   "description": props["alert_group_identifiers"]["description"]},
              f"{name}: alert_group_identifiers is string[]")
        check(props["target_entities"]["default"] == [], f"{name}: target_entities defaults to []")
        ent = props["target_entities"]["items"]["properties"]
        check(set(ent) == {"Identifier", "EntityType"}, f"{name}: target entity fields")
        check(props["scope"]["default"] == "All entities", f"{name}: scope defaults to All entities")
        check({"case_id", "alert_group_identifiers"} <= set(t.inputSchema["required"]), f"{name}: required context")
    start = tools[p + "start_subscription"].inputSchema["properties"]["start_a_subscription_for"]
    check(start["type"] == "array" and start["items"]["type"] == "string", "start_a_subscription_for is string[]")
    stop = tools[p + "stop_subscription"].inputSchema["properties"]["stop_a_subscription_for"]
    check(stop["type"] == "array" and stop["items"]["type"] == "string", "stop_a_subscription_for is string[]")
    check(tools[p + "ping"].annotations.readOnlyHint is True, "ping is read-only")
    check(tools[p + "list_subscriptions"].annotations.readOnlyHint is True, "list is read-only")
    check(tools[p + "start_subscription"].annotations.idempotentHint is True, "start is idempotent")
    check(tools[p + "stop_subscription"].annotations.destructiveHint is True, "stop is destructive")
    check("lost for good" in tools[p + "stop_subscription"].description, "stop warns that content is lost")

    r = structured(await session.call_tool(p + "ping", CTX), p + "ping")
    check(r["status"] == "Completed" and r["result_value"] is True, f"ping succeeds: {r['output_message']}")
    check(any("Ping" in str(l.data) for l in logs), f"a log message for the call at level info: {logs}")
    check(r["output_message"] == "Successfully connected to the O365 Management API with the provided connection parameters!", "ping message")
    check(r["case_id"] == "4711" and r["alert_group_identifiers"] == ["g1"], "context echoed")

    res = await session.call_tool(p + "start_subscription", {**CTX, "start_a_subscription_for": ["Audit.Exchange", "dlp.all"]})
    check(res.isError is False, "start is not an error")
    r = structured(res)
    got = [(s["contentType"], s["outcome"]) for s in r["json_result"]["subscriptions"]]
    check(got == [("Audit.Exchange", "started"), ("DLP.All", "started")], f"start outcomes {got}")
    r = structured(await session.call_tool(p + "start_subscription", {**CTX, "start_a_subscription_for": ["Audit.Exchange"]}))
    check(r["json_result"]["subscriptions"][0]["outcome"] == "already_enabled", "second start is already_enabled")
    check(r["result_value"] is True, "already_enabled is success")

    answers["next"] = "accept"
    r = structured(await session.call_tool(p + "stop_subscription", {**CTX, "stop_a_subscription_for": ["DLP.All"], "scope": "Suspicious entities"}), p + "stop_subscription")
    check(r["json_result"]["subscriptions"][0]["outcome"] == "stopped", "stop outcome")
    check("lost for good" in r["json_result"]["warning"], "stop result warns")
    check(r["scope"] == "Suspicious entities", "scope echoed")
    if elicits:
        check(len(asked) == 1 and "DLP.All" in asked[0] and "lost for good" in asked[0] and "default" in asked[0],
              f"the stop was confirmed first, naming the types, the tenant and the loss: {asked}")
        # The gaps resource changed: the subscriber hears of it.
        updated = [n for n in notifications if isinstance(n, types.ResourceUpdatedNotification)]
        check(any(str(n.params.uri) == "o365://default/gaps" for n in updated), f"gaps update notified: {notifications}")
        answers["next"] = "decline"
        res = await session.call_tool(p + "stop_subscription", {**CTX, "stop_a_subscription_for": ["Audit.Exchange"]})
        r = structured(res, p + "stop_subscription")
        check(len(asked) == 2 and "Audit.Exchange" in asked[1], "the second stop asked too")
        check(r["result_value"] is False and "Nothing was stopped" in r["output_message"], f"declined: {r['output_message']}")
    else:
        check(asked == [], "a client without elicitation is not asked")

    r = structured(await session.call_tool(p + "list_subscriptions", CTX))
    subs = {s["contentType"]: s["status"] for s in r["json_result"]["subscriptions"]}
    check(subs == {"Audit.Exchange": "enabled", "DLP.All": "disabled"}, f"listed {subs}")
    r = structured(await session.call_tool(p + "list_content", {**CTX, "content_type": "Audit.Exchange"}))
    check(r["status"] == "Completed" and isinstance(r["json_result"]["count"], int), "list_content answers")
    # A long listing reports its progress, page by page, before its result.
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, message))

    import datetime
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = structured(await session.call_tool(p + "list_content", {**CTX, "content_type": "Audit.Exchange", "start_time": since},
                                           progress_callback=on_progress))
    windows = r["json_result"]["windows"]
    check(windows >= 3 and len(seen) >= windows, f"progress for each of {windows} windows: {seen}")
    check([s[0] for s in seen] == sorted(s[0] for s in seen), "progress increases")
    check(all("window" in s[1] for s in seen), "progress says which window")

    # Bad calls: protocol errors for unknown tools and malformed arguments ...
    await expect_protocol_error(session, p + "reboot", CTX, "unknown tool")
    await expect_protocol_error(session, p + "ping", {"alert_group_identifiers": []}, "case_id")
    await expect_protocol_error(session, p + "ping", {"case_id": "1", "alert_group_identifiers": "g1"}, "alert_group_identifiers")
    await expect_protocol_error(session, p + "start_subscription", CTX, "start_a_subscription_for")
    # ... and a Failed result, readable by the agent, for values the integration rejects.
    res = await session.call_tool(p + "start_subscription", {**CTX, "start_a_subscription_for": ["Audit.Exchnage"]})
    check(res.isError is True, "unknown content type is an error result")
    r = structured(res)
    check(r["status"] == "Failed" and "Did you mean Audit.Exchange?" in r["output_message"], r["output_message"])
    res = await session.call_tool(p + "start_subscription", {**CTX, "start_a_subscription_for": ["Select content type"]})
    check(res.isError is True and "placeholder" in res.structuredContent["output_message"], "placeholder rejected")
    res = await session.call_tool(p + "ping", {**CTX, "case_id": ""})
    check(res.isError is True and res.structuredContent["error"]["field"] == "case_id", "empty case_id rejected")

    # Still serving.
    r = structured(await session.call_tool(p + "ping", CTX))
    check(r["result_value"] is True, "still serves after bad calls")


async def bad_http_requests(url, headers):
    """Malformed, oversized and foreign-origin requests get clear refusals; none breaks the server."""
    import httpx
    h = {**headers, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.post(url, headers=h, content=b"{not json")
        check(r.status_code == 400 and r.json()["error"]["code"] == -32700, f"malformed JSON: JSON-RPC parse error ({r.status_code} {r.text})")
        r = await c.post(url, headers=h, content=b'{"hello": "world"}')
        check(r.status_code == 400 and r.json()["error"]["code"] == -32600, f"not JSON-RPC: invalid request ({r.status_code})")
        r = await c.post(url, headers=h, content=b"[" + b" " * (5 << 20) + b"]")
        check(r.status_code == 413 and r.json()["error"]["code"] == -32600, f"oversized body refused ({r.status_code})")
        check(r.headers.get("connection") == "close", f"oversized body: the connection closed, not reused ({r.headers})")
        r = await c.post(url, headers={**h, "Origin": "http://evil.example"},
                         content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode())
        check(r.status_code == 403, f"foreign Origin refused ({r.status_code})")


async def fleet(session, names, ids):
    """Several tenants: each tool takes an optional tenant (an enum of the names)."""
    await session.initialize()
    tools = (await session.list_tools()).tools
    for t in tools:
        prop = t.inputSchema["properties"].get("tenant")
        check(prop is not None and prop["enum"] == names and prop["default"] == names[0], f"{t.name}: tenant enum {prop}")
        check("tenant" not in t.inputSchema.get("required", []), f"{t.name}: tenant optional")
    p = "office365_management_api_"
    for name, tid in zip(names, ids):
        r = (await session.call_tool(p + "ping", {**CTX, "tenant": name})).structuredContent
        check(r["result_value"] is True and r["tenant_id"] == tid, f"ping {name} is tenant {tid}: {r['tenant_id']}")
    r = (await session.call_tool(p + "ping", CTX)).structuredContent
    check(r["tenant_id"] == ids[0], "no tenant: the default")
    await expect_protocol_error(session, p + "ping", {**CTX, "tenant": "nobody"}, "allowed: " + ", ".join(names))
    uris = {str(r.uri) for r in (await session.list_resources()).resources}
    check(all(f"o365://{n}/gaps" in uris for n in names), f"gaps of every tenant: {sorted(uris)}")
    tenants = json.loads((await session.read_resource(AnyUrl("o365://tenants"))).contents[0].text)
    check([t["name"] for t in tenants] == names, f"tenants resource {tenants}")
    c = await session.complete(types.PromptReference(type="ref/prompt", name="check_audit_feed_health"),
                               {"name": "tenant", "value": ""})
    check(c.completion.values == names, f"tenant completions {c.completion.values}")
    got = await session.get_prompt("check_audit_feed_health", {"tenant": names[1]})
    check(f"o365://{names[1]}/gaps" in got.messages[0].content.text, "prompt for the second tenant")


async def alerts(session, expected):
    await session.initialize()
    name = "office365_management_api_list_alerts"
    tools = {t.name: t for t in (await session.list_tools()).tools}
    tool = tools.get(name)
    check(tool is not None and tool.annotations.readOnlyHint and tool.outputSchema, "list_alerts listed, read-only, with an output schema")
    res = await session.call_tool(name, {"limit": 5, "connector": "dlp"})
    check(not res.isError, f"list_alerts succeeds: {res.content}")
    jsonschema.validate(res.structuredContent, tool.outputSchema)
    got = [a["ticket_id"] for a in res.structuredContent["alerts"]]
    check(got == expected["dlp5"], f"the five newest DLP alerts, newest first: {got}")
    check(res.structuredContent["count"] == 5, "count")
    res = await session.call_tool(name, {"min_priority": 80, "limit": 200})
    high = res.structuredContent["alerts"]
    check(high and all(a["priority"] >= 80 for a in high), "min_priority filters")
    check(len(high) == expected["high"], f"every alert of priority 80 or more: {len(high)}")
    await expect_protocol_error(session, name, {"limit": 0}, "1 to 200")
    await expect_protocol_error(session, name, {"connector": "soar"}, "audit-general")
    r = json.loads((await session.read_resource(AnyUrl("o365://default/alerts"))).contents[0].text)
    check([a["ticket_id"] for a in r] == expected["last50"], "the alerts resource: the last 50, newest first")


async def main():
    mode = sys.argv[1]
    if mode == "alerts":
        # alerts BINARY EXPECTED.json
        with open(sys.argv[3]) as f:
            expected = json.load(f)
        params = StdioServerParameters(command=sys.argv[2], args=["mcp"], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await alerts(session, expected)
    elif mode == "fleet":
        # fleet BINARY CONFIG NAME=ID,NAME=ID
        pairs = [p.split("=") for p in sys.argv[4].split(",")]
        params = StdioServerParameters(command=sys.argv[2], args=["--config", sys.argv[3], "mcp"], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await fleet(session, [p[0] for p in pairs], [p[1] for p in pairs])
    elif mode == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=["mcp"], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, elicitation_callback=on_elicit,
                                     message_handler=on_message, logging_callback=on_log) as session:
                await exercise(session, elicits=True)
    else:
        url, token = sys.argv[2], sys.argv[3]
        headers = {} if token == "-" else {"Authorization": f"Bearer {token}"}
        await bad_http_requests(url, headers)
        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write, message_handler=on_message, logging_callback=on_log) as session:
                await exercise(session)
    print(json.dumps({"ok": True, "mode": mode, "checks": len(checks)}))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # report the failed check, whatever raised it
        import traceback
        traceback.print_exc()
        print(f"FAILED after {len(checks)} checks: {e!r}", file=sys.stderr)
        sys.exit(1)
