/* `toolconnect keys rotate [--resume] [--no-wait] | status` */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "config/config.h"
#include "crypto/keys.h"

#define FINAL_PASS_DELAY_MS 6000 /* a watcher interval plus slack: servers have switched */

typedef struct {
    bool resume;
    bool no_wait;
} cli_opts;

typedef struct {
    tc_config cfg;
    tc_db *db;
    tc_keyring *kr;
} cli_env;

static void usage(FILE *out)
{
    fprintf(out, "usage: toolconnect keys rotate [--resume] [--no-wait] [--setting=value ...]\n"
                 "       toolconnect keys status [--setting=value ...]\n"
                 "  rotate     add a key id, make it active, re-encrypt every secret\n"
                 "  --resume   finish an interrupted rotation without adding a key\n"
                 "  --no-wait  skip the final pass that catches writes of servers still\n"
                 "             on the old key (they switch within 5 s)\n"
                 "  status     key ids, the active one, and how many secrets each holds\n");
}

/* Takes our own flags out of argv so the settings parser sees only its own. */
static int take_opts(int argc, char **argv, cli_opts *o)
{
    int k = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--resume"))
            o->resume = true;
        else if (!strcmp(argv[i], "--no-wait"))
            o->no_wait = true;
        else
            argv[k++] = argv[i];
    }
    return k;
}

static tc_status env_open(cli_env *e, int argc, char **argv, tc_err *err)
{
    int argi = 2;
    unsigned char master[TC_MASTER_KEY_LEN];
    tc_status st = tc_config_load(&e->cfg, argc, argv, &argi, err);
    if (st == TC_OK && argi < argc)
        st = tc_failf(err, TC_BAD_REQUEST, argv[argi], "unexpected argument \"%s\"", argv[argi]);
    if (st != TC_OK)
        return st;
    tc_log_level level = TC_LOG_INFO;
    tc_log_parse_level(e->cfg.log_level, &level);
    tc_log_setup(level, strcmp(e->cfg.log_format, "json") ? TC_LOG_TEXT : TC_LOG_JSON, 2);
    st = tc_master_key_load(e->cfg.master_key, e->cfg.data_dir, false, master, err);
    if (st == TC_OK)
        st = tc_keyring_new(master, sizeof(master), &e->kr, err);
    OPENSSL_cleanse(master, sizeof(master));
    if (st == TC_OK)
        st = tc_db_open(e->cfg.database_url, 2, &e->db, err);
    if (st == TC_OK)
        st = tc_db_migrate(e->db, err);
    if (st == TC_OK)
        st = tc_keys_load(e->db, e->kr, true, err);
    return st;
}

static void env_close(cli_env *e)
{
    tc_db_close(e->db);
    tc_keyring_free(e->kr);
    tc_config_free(&e->cfg);
}

static void print_count(void *ctx, const tc_secret_column *col, const char *kid, int64_t count)
{
    char name[96];
    snprintf(name, sizeof(name), "%s.%s", col->table, col->ct_col);
    printf("  %-36s key %-6s %8" PRId64 " secret%s\n", name, *kid ? kid : "(none)", count,
           count == 1 ? "" : "s");
}

static tc_status print_keys(cli_env *e, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(e->db);
    tc_db_rows *rows;
    tc_status st = tc_db_query(c, "SELECT id, created_at, retired_at FROM secret_keys ORDER BY created_at, id",
                               NULL, 0, &rows, err);
    tc_kid active = tc_keyring_active(e->kr);
    printf("keys (active: %" PRIu32 "):\n", active);
    while (st == TC_OK && tc_db_rows_next(rows)) {
        const char *id = tc_db_rows_text(rows, 0);
        char created[32], retired[32] = "";
        tc_time_format(tc_db_rows_int(rows, 1), created);
        if (!tc_db_rows_isnull(rows, 2))
            tc_time_format(tc_db_rows_int(rows, 2), retired);
        bool is_active = id && strtoul(id, NULL, 10) == active;
        printf("  key %-6s created %s%s%s%s\n", id ? id : "?", created, is_active ? "  active" : "",
               *retired ? "  retired " : "", retired);
    }
    if (st == TC_OK)
        tc_db_rows_free(rows);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    printf("secrets:\n");
    return tc_keys_count(e->db, print_count, NULL, err);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static tc_status rotate(cli_env *e, const cli_opts *o, tc_err *err)
{
    tc_keys_progress p = {0};
    tc_status st = TC_OK;
    if (!o->resume) {
        tc_kid kid;
        st = tc_keys_add(e->db, e->kr, &kid, err);
        if (st != TC_OK)
            return st;
        printf("added key %" PRIu32 "; it is now active\n", kid);
    }
    st = tc_keys_reencrypt(e->db, e->kr, 0, &p, err);
    if (st == TC_OK && !o->no_wait) {
        printf("re-encrypted %" PRId64 "; final pass in %d s for servers still switching...\n",
               p.rewrapped, FINAL_PASS_DELAY_MS / 1000);
        fflush(stdout);
        sleep_ms(FINAL_PASS_DELAY_MS);
        st = tc_keys_reencrypt(e->db, e->kr, 0, &p, err);
    }
    if (st != TC_OK)
        return st;
    int64_t retired = 0;
    if (p.failed == 0)
        st = tc_keys_retire_unused(e->db, e->kr, &retired, err);
    printf("re-encrypted %" PRId64 " secrets in %" PRId64 " batches (%" PRId64 " key ids fixed, %" PRId64
           " retried after concurrent changes, %" PRId64 " failed); %" PRId64 " old key%s retired\n",
           p.rewrapped, p.batches, p.relabeled, p.conflicts, p.failed, retired, retired == 1 ? "" : "s");
    if (st == TC_OK && p.failed)
        st = tc_failc(err, TC_INTERNAL, "secret_rotation_incomplete", NULL,
                      "%" PRId64 " secrets could not be decrypted (see the log for their rows); "
                      "the old keys stay until they are fixed or deleted", p.failed);
    return st;
}

int tc_keys_main(int argc, char **argv)
{
    cli_opts o = {false, false};
    argc = take_opts(argc, argv, &o);
    const char *sub = argc >= 2 ? argv[1] : "";
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "rotate") && strcmp(sub, "status")) {
        usage(stderr);
        return 2;
    }
    cli_env e = {0};
    tc_err err;
    tc_err_clear(&err);
    tc_status st = env_open(&e, argc, argv, &err);
    if (st == TC_OK && !strcmp(sub, "rotate"))
        st = rotate(&e, &o, &err);
    if (st == TC_OK)
        st = print_keys(&e, &err);
    if (st != TC_OK)
        fprintf(stderr, "toolconnect keys %s: %s\n", sub, err.message[0] ? err.message : tc_strerror(st));
    env_close(&e);
    return st == TC_OK ? 0 : 1;
}
