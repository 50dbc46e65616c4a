/*
 * The MCP server's Streamable HTTP transport at /mcp (MCP 2025-03-26 … 2025-11-25): one
 * JSON-RPC message per POST answered with application/json, sessions in the database
 * (mcp/session.h) so that any replica answers, DELETE to end a session, GET 405 (this server
 * offers no stream: it never sends anything but responses). Every request is checked in
 * this order: Origin (403, DNS rebinding), Accept (406), the bearer credential (401 with
 * WWW-Authenticate pointing at the protected resource metadata), the JSON (400, -32700),
 * MCP-Protocol-Version (400), Mcp-Session-Id (400 missing, 404 unknown). The protocol itself
 * is mcp/mcp.h's.
 */
#ifndef TODO_HANDLERS_MCP_H
#define TODO_HANDLERS_MCP_H

#include "http/request.h"

void h_mcp_post(struct request *req);
void h_mcp_delete(struct request *req);

/* GET /.well-known/oauth-protected-resource[/mcp]: RFC 9728 metadata naming this server's
 * /mcp as the resource, with bearer tokens in the Authorization header. */
void h_mcp_resource_metadata(struct request *req);

#endif
