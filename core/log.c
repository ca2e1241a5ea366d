/* SPDX-License-Identifier: MIT */
/*
 * The library's only way to speak: a process-wide log function the application installs,
 * and a level (UVSOCK_LOG in the environment, or the API) that keeps the hot paths cheap:
 * uvsock_log_on() is one relaxed load, checked before any message is formatted.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_env_once = PTHREAD_ONCE_INIT;
static uvsock_log_fn log_fn;
static void *log_ctx;
static int log_level = UVSOCK_LOG_WARN;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int uvsock_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i <= UVSOCK_LOG_DEBUG; i++)
        if (!strcmp(name, level_names[i]) || (name[0] == '0' + i && !name[1]))
            return i;
    return -1;
}

const char *uvsock_log_level_str(enum uvsock_log_level level)
{
    return (unsigned)level <= UVSOCK_LOG_DEBUG ? level_names[level] : "unknown";
}

static void read_env(void)
{
    int level = uvsock_log_level_parse(getenv("UVSOCK_LOG"));

    if (level >= 0)
        __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void uvsock_set_log(uvsock_log_fn fn, void *ctx)
{
    pthread_once(&log_env_once, read_env);
    pthread_mutex_lock(&log_lock);
    __atomic_store_n(&log_fn, fn, __ATOMIC_RELAXED);
    log_ctx = ctx;
    pthread_mutex_unlock(&log_lock);
}

void uvsock_set_log_level(enum uvsock_log_level level)
{
    pthread_once(&log_env_once, read_env);
    if ((unsigned)level <= UVSOCK_LOG_DEBUG)
        __atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum uvsock_log_level uvsock_get_log_level(void)
{
    pthread_once(&log_env_once, read_env);
    return (enum uvsock_log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

bool uvsock_log_on(enum uvsock_log_level level)
{
    return (int)level <= __atomic_load_n(&log_level, __ATOMIC_RELAXED) &&
           __atomic_load_n(&log_fn, __ATOMIC_RELAXED) != NULL;
}

void uvsock_log(enum uvsock_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    pthread_once(&log_env_once, read_env);
    if (!uvsock_log_on(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (log_fn)
        log_fn(log_ctx, level, msg);
    pthread_mutex_unlock(&log_lock);
}
