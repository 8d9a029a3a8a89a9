/* Every call of libcoffer against a real S3 server, from C: settings from key/value pairs, put
 * (buffer, callback, fd), get (buffer, range, caller's buffer, callback, fd), stat, copy,
 * list, delete, and errors read from C. Settings come from the environment the Rust test sets:
 * COFFER_C_ENDPOINT, _REGION, _BUCKET, _ACCESS_KEY, _SECRET_KEY, _PREFIX, and COFFER_C_BOUNDED=1
 * to run in a bounded address space. Prints "c-api: ok" and exits 0 when every check holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coffer.h"

static int failures = 0;
#define CHECK(cond, what)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "c-api: FAILED %s (line %d)\n", what, __LINE__); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static const char *env(const char *name) {
    const char *value = getenv(name);
    if (value == NULL) {
        fprintf(stderr, "c-api: %s is not set\n", name);
        exit(2);
    }
    return value;
}

static void report(const char *what, struct coffer_error *err) {
    fprintf(stderr, "c-api: %s: kind %d, status %u, s3 code %s: %s\n", what, (int)coffer_error_kind(err),
            coffer_error_status(err), coffer_error_s3_code(err) ? coffer_error_s3_code(err) : "-",
            coffer_error_message(err));
}

struct source {
    const uint8_t *data;
    size_t len, at;
};

static ptrdiff_t read_source(void *ctx, uint8_t *buf, size_t cap) {
    struct source *s = ctx;
    size_t n = s->len - s->at < cap ? s->len - s->at : cap;
    if (n > 7000) n = 7000; /* short reads, as a pipe gives */
    memcpy(buf, s->data + s->at, n);
    s->at += n;
    return (ptrdiff_t)n;
}

struct sink {
    uint8_t *data;
    size_t len, cap;
};

static int32_t write_sink(void *ctx, const uint8_t *data, size_t len) {
    struct sink *s = ctx;
    if (s->len + len > s->cap) return 1;
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

int main(void) {
    struct coffer_error *err = NULL;
    struct coffer_options options = {0};
    options.cache_dir = getenv("COFFER_C_CACHE");
    options.bounded_memory = getenv("COFFER_C_BOUNDED") != NULL;
    struct coffer *host = coffer_new(&options, &err);
    if (host == NULL) {
        report("coffer_new", err);
        coffer_error_free(err);
        return 1;
    }

    /* A bad setting is refused, naming the field. */
    struct coffer_settings *bad = coffer_settings_new("c-bad");
    coffer_settings_set(bad, "bucket", "b", NULL);
    coffer_settings_set(bad, "maxRetries", "many", NULL);
    CHECK(coffer_tenant_new(host, bad, &err) == NULL, "a bad maxRetries is refused");
    CHECK(err && coffer_error_kind(err) == COFFER_INVALID_CONFIG, "as invalid config");
    CHECK(err && strstr(coffer_error_message(err), "maxRetries") != NULL, "naming the field");
    coffer_error_free(err);
    err = NULL;
    coffer_settings_free(bad);

    struct coffer_settings *settings = coffer_settings_new("c-api");
    const char *pairs[][2] = {
        {"bucket", env("COFFER_C_BUCKET")},         {"region", env("COFFER_C_REGION")},
        {"endpoint", env("COFFER_C_ENDPOINT")},     {"accessKey", env("COFFER_C_ACCESS_KEY")},
        {"secretKey", env("COFFER_C_SECRET_KEY")},  {"keyPrefix", env("COFFER_C_PREFIX")},
        {"timeout", "10s"},                         {"maxRetries", "3"},
        {"verifyAfterWrite", "true"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK(coffer_settings_set(settings, pairs[i][0], pairs[i][1], &err) == 0, pairs[i][0]);
    }
    struct coffer_tenant *tenant = coffer_tenant_new(host, settings, &err);
    coffer_settings_free(settings);
    if (tenant == NULL) {
        report("coffer_tenant_new", err);
        coffer_error_free(err);
        coffer_free(host);
        return 1;
    }

    size_t len = 300 * 1024 + 7;
    uint8_t *blob = malloc(len);
    for (size_t i = 0; i < len; i++) blob[i] = (uint8_t)(i * 31 + i / 251);

    /* put from a buffer; get whole, ranged, into the caller's buffer */
    CHECK(coffer_put(tenant, "mail/one", blob, len, &err) == 0, "put");
    uint8_t *got = NULL;
    size_t got_len = 0;
    CHECK(coffer_get(tenant, "mail/one", 0, COFFER_TO_END, &got, &got_len, &err) == 1, "get");
    CHECK(got_len == len && memcmp(got, blob, len) == 0, "get returns the bytes put");
    coffer_buffer_free(got, got_len);
    CHECK(coffer_get(tenant, "mail/one", 1000, 5000, &got, &got_len, &err) == 1, "ranged get");
    CHECK(got_len == 4000 && memcmp(got, blob + 1000, 4000) == 0, "ranged get returns [1000, 5000)");
    coffer_buffer_free(got, got_len);
    uint8_t small[100];
    size_t small_len = 0;
    CHECK(coffer_get_into(tenant, "mail/one", 10, 110, small, sizeof small, &small_len, &err) == 1, "get into");
    CHECK(small_len == 100 && memcmp(small, blob + 10, 100) == 0, "get into the caller's buffer");
    CHECK(coffer_get_into(tenant, "mail/one", 0, COFFER_TO_END, small, sizeof small, &small_len, &err) == -1,
          "a get that does not fit fails");
    coffer_error_free(err);
    err = NULL;

    /* stat; missing keys */
    struct coffer_info info;
    CHECK(coffer_stat(tenant, "mail/one", &info, &err) == 1 && info.size == len && strlen(info.etag) > 0, "stat");
    CHECK(coffer_stat(tenant, "mail/none", &info, &err) == 0, "stat of a missing key");
    CHECK(coffer_get(tenant, "mail/none", 0, COFFER_TO_END, &got, &got_len, &err) == 0 && got == NULL,
          "get of a missing key");

    /* put from a callback and from a file descriptor; get to a callback and to a descriptor */
    struct source source = {blob, len, 0};
    CHECK(coffer_put_stream(tenant, "mail/two", len, read_source, &source, &err) == 0, "put from a callback");
    struct source short_source = {blob, 1000, 0};
    CHECK(coffer_put_stream(tenant, "mail/short", 5000, read_source, &short_source, &err) == -1,
          "a source that ends early fails the put");
    coffer_error_free(err);
    err = NULL;
    CHECK(coffer_stat(tenant, "mail/short", &info, &err) == 0, "and stores nothing");
    struct sink sink = {malloc(len), 0, len};
    CHECK(coffer_get_stream(tenant, "mail/two", 0, COFFER_TO_END, write_sink, &sink, &err) == 1, "get to a callback");
    CHECK(sink.len == len && memcmp(sink.data, blob, len) == 0, "the callback got the bytes");
    free(sink.data);
    char path[] = "/tmp/coffer-c-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, blob, len) == (ssize_t)len, "a temporary file");
    lseek(fd, 0, SEEK_SET);
    CHECK(coffer_put_fd(tenant, "mail/three", fd, COFFER_SIZE_OF_FILE, &err) == 0, "put from a descriptor");
    CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0, "emptied");
    CHECK(coffer_get_fd(tenant, "mail/three", 100, 200, fd, &err) == 1, "get to a descriptor");
    uint8_t back[100];
    CHECK(pread(fd, back, 100, 0) == 100 && memcmp(back, blob + 100, 100) == 0, "the descriptor got [100, 200)");
    close(fd);
    unlink(path);

    /* copy, list */
    CHECK(coffer_copy(tenant, "mail/one", "mail/copy", &err) == 1, "copy");
    CHECK(coffer_stat(tenant, "mail/copy", &info, &err) == 1 && info.size == len, "the copy is there");
    struct coffer_list *list = coffer_list_new(tenant, "mail/", &err);
    struct coffer_object object;
    int listed = 0, rc;
    while ((rc = coffer_list_next(list, &object, &err)) == 1) {
        listed++;
        CHECK(strncmp(object.key, "mail/", 5) == 0 && object.size == len, "a listed object");
    }
    CHECK(rc == 0 && listed == 4, "four objects listed");
    coffer_list_free(list);

    /* delete */
    const char *keys[] = {"mail/one", "mail/two", "mail/three", "mail/copy"};
    for (int i = 0; i < 4; i++) CHECK(coffer_delete(tenant, keys[i], &err) == 1, "delete");
    CHECK(coffer_delete(tenant, "mail/one", &err) == 0, "a second delete finds nothing");

    /* an error from the server, readable from C, without the secret */
    struct coffer_settings *wrong = coffer_settings_new("c-wrong");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) coffer_settings_set(wrong, pairs[i][0], pairs[i][1], NULL);
    coffer_settings_set(wrong, "secretKey", "not-the-secret-1234", NULL);
    coffer_settings_set(wrong, "maxRetries", "0", NULL);
    struct coffer_tenant *denied = coffer_tenant_new(host, wrong, &err);
    coffer_settings_free(wrong);
    CHECK(denied != NULL, "a tenant with a wrong secret is made");
    if (denied != NULL && getenv("COFFER_C_CHECKS_SIGNATURES") != NULL) {
        CHECK(coffer_put(denied, "mail/x", blob, 10, &err) == -1, "its put fails");
        if (err && coffer_error_kind(err) != COFFER_ACCESS_DENIED) report("the wrong secret's put", err);
        CHECK(err && coffer_error_kind(err) == COFFER_ACCESS_DENIED && coffer_error_status(err) == 403, "access denied, 403");
        CHECK(err && strstr(coffer_error_message(err), "not-the-secret") == NULL, "the message has no secret");
        CHECK(err && !coffer_error_is_temporary(err), "not temporary");
        coffer_error_free(err);
        err = NULL;
    }
    coffer_tenant_free(denied);

    free(blob);
    coffer_tenant_free(tenant);
    coffer_free(host);
    if (err != NULL) {
        report("an unexpected error", err);
        coffer_error_free(err);
        failures++;
    }
    if (failures) return 1;
    printf("c-api: ok\n");
    return 0;
}
