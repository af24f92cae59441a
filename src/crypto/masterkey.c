/* The master key: from TC_MASTER_KEY, or from <data_dir>/master.key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"

#define KEY_FILE "master.key"
#define KEY_FILE_MAX 256 /* base64 of 32 bytes is 44 characters; allow a newline and slack */

tc_status tc_master_key_decode(const char *b64, unsigned char out[TC_MASTER_KEY_LEN], tc_err *err)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    size_t n = b64 ? strlen(b64) : 0;
    while (n && (b64[n - 1] == '\n' || b64[n - 1] == '\r' || b64[n - 1] == ' '))
        n--;
    if (!n)
        return tc_failf(err, TC_BAD_REQUEST, "TC_MASTER_KEY", "the master key is empty");
    if (tc_base64_decode(b64, n, &raw, &rawlen) != TC_OK)
        return tc_failf(err, TC_BAD_REQUEST, "TC_MASTER_KEY", "the master key is not valid base64");
    tc_status st = TC_OK;
    if (rawlen != TC_MASTER_KEY_LEN)
        st = tc_failf(err, TC_BAD_REQUEST, "TC_MASTER_KEY",
                      "the master key must decode to %d bytes, got %zu (generate one with "
                      "`openssl rand -base64 32`)", TC_MASTER_KEY_LEN, rawlen);
    else
        memcpy(out, raw, TC_MASTER_KEY_LEN);
    tc_secret_free(raw, rawlen);
    return st;
}

static tc_status read_key_file(const char *path, unsigned char out[TC_MASTER_KEY_LEN], tc_err *err)
{
    char buf[KEY_FILE_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TC_NOT_FOUND
                               : tc_failf(err, TC_IO, "TC_MASTER_KEY", "cannot read %s: %s", path,
                                          strerror(errno));
    ssize_t n = read(fd, buf, KEY_FILE_MAX);
    close(fd);
    if (n < 0 || n == KEY_FILE_MAX)
        return tc_failf(err, TC_IO, "TC_MASTER_KEY", "%s is unreadable or too large", path);
    buf[n] = '\0';
    tc_status st = tc_master_key_decode(buf, out, err);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (st != TC_OK)
        tc_failf(err, st, "TC_MASTER_KEY", "%s does not hold base64 of 32 bytes", path);
    return st;
}

static tc_status write_key_file(const char *path, unsigned char out[TC_MASTER_KEY_LEN], tc_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? TC_CONFLICT
                               : tc_failf(err, TC_IO, "TC_MASTER_KEY", "cannot create %s: %s",
                                          path, strerror(errno));
    tc_random_bytes(out, TC_MASTER_KEY_LEN);
    char *enc = tc_base64_encode(out, TC_MASTER_KEY_LEN);
    size_t len = strlen(enc);
    enc = tc_realloc(enc, len + 2);
    enc[len++] = '\n';
    bool ok = write(fd, enc, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    tc_secret_free(enc, len);
    if (!ok) {
        unlink(path);
        return tc_failf(err, TC_IO, "TC_MASTER_KEY", "cannot write %s", path);
    }
    return TC_OK;
}

tc_status tc_master_key_load(const char *setting, const char *data_dir, bool create,
                             unsigned char out[TC_MASTER_KEY_LEN], tc_err *err)
{
    if (setting && *setting)
        return tc_master_key_decode(setting, out, err);
    char *path = tc_asprintf("%s/%s", data_dir && *data_dir ? data_dir : ".", KEY_FILE);
    tc_status st = read_key_file(path, out, err);
    if (st != TC_NOT_FOUND || !create)
        goto out;
    if (data_dir && *data_dir)
        (void)mkdir(data_dir, 0700); /* EEXIST is fine; other failures show up in open() */
    st = write_key_file(path, out, err);
    if (st == TC_CONFLICT) /* another process won the race: use its key */
        st = read_key_file(path, out, err);
    if (st == TC_OK)
        tc_log(TC_LOG_WARN, "generated a new master key; back it up", "path", path, NULL);
out:
    if (st == TC_NOT_FOUND)
        tc_failf(err, st, "TC_MASTER_KEY", "no master key: set TC_MASTER_KEY or create %s", path);
    free(path);
    return st;
}
