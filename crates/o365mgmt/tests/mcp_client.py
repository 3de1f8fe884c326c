"""Drive `o365mgmt mcp` with the official MCP Python SDK (the `mcp` package).

usage: mcp_client.py stdio BINARY
       mcp_client.py http URL TOKEN|-

The server must be configured (O365_* in the environment) against an emulator with no
subscriptions. Prints one JSON report on stdout; exits 1 with the failed check on stderr.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

CTX = {"case_id": "4711", "alert_group_identifiers": ["g1"]}
checks = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    checks.append(what)


def structured(res):
    check(res.structuredContent is not None, "result has structured content")
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


async def exercise(session):
    init = await session.initialize()
    check(init.serverInfo.name == "o365mgmt", "server names itself o365mgmt")

    tools = {t.name: t for t in (await session.list_tools()).tools}
    p = "office365_management_api_"
    check(
        set(tools) == {p + "ping", p + "start_subscription", p + "stop_subscription",
                       p + "list_subscriptions", p + "list_content"},
        f"tool names: {sorted(tools)}",
    )
    for name, t in tools.items():
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

    r = structured(await session.call_tool(p + "ping", CTX))
    check(r["status"] == "Completed" and r["result_value"] is True, f"ping succeeds: {r['output_message']}")
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

    r = structured(await session.call_tool(p + "stop_subscription", {**CTX, "stop_a_subscription_for": ["DLP.All"], "scope": "Suspicious entities"}))
    check(r["json_result"]["subscriptions"][0]["outcome"] == "stopped", "stop outcome")
    check("lost for good" in r["json_result"]["warning"], "stop result warns")
    check(r["scope"] == "Suspicious entities", "scope echoed")

    r = structured(await session.call_tool(p + "list_subscriptions", CTX))
    subs = {s["contentType"]: s["status"] for s in r["json_result"]["subscriptions"]}
    check(subs == {"Audit.Exchange": "enabled", "DLP.All": "disabled"}, f"listed {subs}")
    r = structured(await session.call_tool(p + "list_content", {**CTX, "content_type": "Audit.Exchange"}))
    check(r["status"] == "Completed" and isinstance(r["json_result"]["count"], int), "list_content answers")

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


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=["mcp"], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await exercise(session)
    else:
        url, token = sys.argv[2], sys.argv[3]
        headers = {} if token == "-" else {"Authorization": f"Bearer {token}"}
        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
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
