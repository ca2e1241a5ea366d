/* SPDX-License-Identifier: MIT */
/* Names of status codes, states and events, for messages and the bindings. */
#include "uvsock.h"

#include <stddef.h>

const char *uvsock_status_str(int status)
{
    switch (status) {
    case UVSOCK_OK:
        return "ZX_OK";
    case UVSOCK_ERR_INTERNAL:
        return "ZX_ERR_INTERNAL";
    case UVSOCK_ERR_NOT_SUPPORTED:
        return "ZX_ERR_NOT_SUPPORTED";
    case UVSOCK_ERR_NO_RESOURCES:
        return "ZX_ERR_NO_RESOURCES";
    case UVSOCK_ERR_NO_MEMORY:
        return "ZX_ERR_NO_MEMORY";
    case UVSOCK_ERR_INVALID_ARGS:
        return "ZX_ERR_INVALID_ARGS";
    case UVSOCK_ERR_BAD_HANDLE:
        return "ZX_ERR_BAD_HANDLE";
    case UVSOCK_ERR_WRONG_TYPE:
        return "ZX_ERR_WRONG_TYPE";
    case UVSOCK_ERR_OUT_OF_RANGE:
        return "ZX_ERR_OUT_OF_RANGE";
    case UVSOCK_ERR_BUFFER_TOO_SMALL:
        return "ZX_ERR_BUFFER_TOO_SMALL";
    case UVSOCK_ERR_BAD_STATE:
        return "ZX_ERR_BAD_STATE";
    case UVSOCK_ERR_TIMED_OUT:
        return "ZX_ERR_TIMED_OUT";
    case UVSOCK_ERR_SHOULD_WAIT:
        return "ZX_ERR_SHOULD_WAIT";
    case UVSOCK_ERR_CANCELED:
        return "ZX_ERR_CANCELED";
    case UVSOCK_ERR_PEER_CLOSED:
        return "ZX_ERR_PEER_CLOSED";
    case UVSOCK_ERR_NOT_FOUND:
        return "ZX_ERR_NOT_FOUND";
    case UVSOCK_ERR_ALREADY_EXISTS:
        return "ZX_ERR_ALREADY_EXISTS";
    case UVSOCK_ERR_ALREADY_BOUND:
        return "ZX_ERR_ALREADY_BOUND";
    case UVSOCK_ERR_UNAVAILABLE:
        return "ZX_ERR_UNAVAILABLE";
    case UVSOCK_ERR_ACCESS_DENIED:
        return "ZX_ERR_ACCESS_DENIED";
    case UVSOCK_ERR_IO:
        return "ZX_ERR_IO";
    }
    return "ZX_ERR_<unknown>";
}

const char *uvsock_event_type_str(enum uvsock_event_type type)
{
    switch (type) {
    case UVSOCK_EVENT_REQUEST:
        return "request";
    case UVSOCK_EVENT_RESPONSE:
        return "response";
    case UVSOCK_EVENT_RST:
        return "rst";
    case UVSOCK_EVENT_SHUTDOWN:
        return "shutdown";
    case UVSOCK_EVENT_TRANSPORT_RESET:
        return "transport_reset";
    case UVSOCK_EVENT_SEND_VMO_COMPLETE:
        return "send_vmo_complete";
    }
    return "unknown";
}

const char *uvsock_conn_state_str(enum uvsock_conn_state state)
{
    switch (state) {
    case UVSOCK_CONN_WAIT_RESPONSE:
        return "wait_response";
    case UVSOCK_CONN_ACTIVE:
        return "active";
    case UVSOCK_CONN_WILL_SHUT_DOWN:
        return "will_shut_down";
    case UVSOCK_CONN_SHUTTING_DOWN:
        return "shutting_down";
    case UVSOCK_CONN_PEER_SHUT_DOWN:
        return "peer_shut_down";
    }
    return "unknown";
}

const char *uvsock_blocked_on_str(enum uvsock_blocked_on b)
{
    switch (b) {
    case UVSOCK_BLOCKED_NOTHING:
        return "nothing";
    case UVSOCK_BLOCKED_RESPONSE:
        return "response";
    case UVSOCK_BLOCKED_PEER_CREDIT:
        return "peer_credit";
    case UVSOCK_BLOCKED_TX_RING:
        return "tx_ring";
    case UVSOCK_BLOCKED_USER_READ:
        return "user_read";
    }
    return "unknown";
}
