/* test_model.c - the YAML model loader framework and diagnostics. */
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

static int load(const char *yaml, kefu_model **m, kefu_diag *d)
{
    return kefu_model_load_buffer(m, yaml, strlen(yaml), "m.yaml", NULL, NULL, d);
}

static void test_minimal(void **st)
{
    kefu_model *m = NULL;
    (void)st;
    assert_int_equal(load("kefu: 1\nname: shop\n", &m, NULL), KEFU_OK);
    assert_non_null(m);
    assert_string_equal(kefu_model_name(m), "shop");
    kefu_model_free(m);
    kefu_model_free(NULL);
}

static void expect_err(const char *yaml, int status, unsigned line,
                       unsigned col, const char *msg)
{
    kefu_model *m = (kefu_model *)0x1;
    kefu_diag *d = kefu_diag_new(NULL);
    char buf[1024];
    int rc = load(yaml, &m, d);
    kefu_diag_format(d, buf, sizeof buf);
    if (rc != status || kefu_diag_line(d) != line || kefu_diag_column(d) != col ||
        !strstr(kefu_diag_message(d), msg))
        fail_msg("for [%s] got %d [%s]", yaml, rc, buf);
    assert_null(m);
    assert_int_equal(kefu_diag_status(d), status);
    assert_string_equal(kefu_diag_file(d), "m.yaml");
    kefu_diag_free(d);
}

static void test_errors(void **st)
{
    (void)st;
    expect_err("kefu: 1\nbogus: 1\n", KEFU_E_UNKNOWN, 2, 1, "unknown key 'bogus'");
    expect_err("name: x\n", KEFU_E_MODEL, 1, 1, "missing the format version");
    expect_err("kefu: 7\n", KEFU_E_VERSION, 1, 7, "format 7 is not supported");
    expect_err("kefu: 1\nname: [a\n", KEFU_E_SYNTAX, 3, 1, "");
    expect_err("kefu: 1\nkefu: 1\n", KEFU_E_MODEL, 2, 1, "duplicate key 'kefu'");
    expect_err("kefu: 1\ntext: {max_bytes: -3}\n", KEFU_E_MODEL, 2, 19, "outside");
    expect_err("kefu: 1\ntext: {max_bytez: 3}\n", KEFU_E_UNKNOWN, 2, 8, "unknown key 'max_bytez'");
    expect_err("kefu: 1\na: &x 1\nb: *x\n", KEFU_E_MODEL, 3, 4, "aliases");
    expect_err("- 1\n", KEFU_E_MODEL, 1, 1, "a model file is a YAML mapping");
    expect_err("kefu: 1\ninclude: x.yaml\n", KEFU_E_MODEL, 2, 10, "base directory");
    /* columns count characters, not bytes */
    expect_err("kefu: 1\nname: 客服\n未知: 1\n", KEFU_E_UNKNOWN, 3, 1, "unknown key");
    expect_err("kefu: 1\ntext: {traditional_to_simplified: 是, max: 1}\n", KEFU_E_UNKNOWN, 2, 38, "unknown key 'max'");
}

static void test_empty_and_bad_bytes(void **st)
{
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    (void)st;
    assert_int_equal(load("", &m, d), KEFU_E_MODEL);
    assert_int_equal(kefu_model_load_buffer(&m, "kefu: 1\nname: \xc0\xaf\n", 17,
                                            "m.yaml", NULL, NULL, d), KEFU_E_UTF8);
    assert_int_equal(kefu_diag_line(d), 2);
    assert_int_equal(kefu_diag_column(d), 7);
    assert_int_equal(kefu_model_load_buffer(&m, "kefu: 1\0", 8, NULL, NULL, NULL, d) != KEFU_OK, 1);
    assert_int_equal(kefu_model_load_buffer(NULL, "x", 1, NULL, NULL, NULL, d), KEFU_E_ARG);
    assert_int_equal(kefu_model_load_buffer(&m, NULL, 1, NULL, NULL, NULL, d), KEFU_E_ARG);
    assert_int_equal(kefu_model_load(&m, "/nonexistent/model.yaml", NULL, d), KEFU_E_IO);
    assert_string_equal(kefu_diag_file(d), "/nonexistent/model.yaml");
    kefu_diag_free(d);
}

static void test_include(void **st)
{
    char dir[] = "/tmp/kefu-test-XXXXXX";
    char path[256];
    FILE *f;
    kefu_model *m = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    char buf[512];
    (void)st;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/main.yaml", dir);
    f = fopen(path, "w");
    fputs("kefu: 1\nname: main\ninclude: [sub/part.yaml]\n", f);
    fclose(f);
    snprintf(buf, sizeof buf, "%s/sub", dir);
    mkdir(buf, 0700);
    snprintf(buf, sizeof buf, "%s/sub/part.yaml", dir);
    f = fopen(buf, "w");
    fputs("kefu: 1\ntext: {max_bytes: 10}\n", f);
    fclose(f);
    assert_int_equal(kefu_model_load(&m, path, NULL, d), KEFU_OK);
    assert_string_equal(kefu_model_name(m), "main");
    kefu_model_free(m);
    /* an error inside the included file names that file */
    f = fopen(buf, "w");
    fputs("kefu: 1\ntext: {nope: 10}\n", f);
    fclose(f);
    assert_int_equal(kefu_model_load(&m, path, NULL, d), KEFU_E_UNKNOWN);
    assert_non_null(strstr(kefu_diag_file(d), "sub/part.yaml"));
    assert_int_equal(kefu_diag_line(d), 2);
    /* a cycle is stopped */
    f = fopen(buf, "w");
    fputs("kefu: 1\ninclude: part.yaml\n", f);
    fclose(f);
    assert_int_equal(kefu_model_load(&m, path, NULL, d), KEFU_E_LIMIT);
    unlink(buf);
    assert_int_equal(kefu_model_load(&m, path, NULL, d), KEFU_E_IO);
    assert_int_equal(kefu_diag_line(d), 3);
    unlink(path);
    snprintf(buf, sizeof buf, "%s/sub", dir);
    rmdir(buf);
    rmdir(dir);
    kefu_diag_free(d);
}

static void test_diag_format(void **st)
{
    kefu_diag *d = kefu_diag_new(NULL);
    kefu_model *m = NULL;
    char buf[256], small[8];
    size_t n;
    (void)st;
    assert_int_equal(kefu_diag_status(d), KEFU_OK);
    assert_string_equal(kefu_diag_message(d), "");
    assert_int_equal(kefu_diag_offset(d), UINT64_MAX);
    load("kefu: 1\nzzz: 1\n", &m, d);
    n = kefu_diag_format(d, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "m.yaml:2:1: unknown key 'zzz'"));
    assert_int_equal(kefu_diag_offset(d), 8);
    assert_int_equal(kefu_diag_format(d, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    kefu_diag_free(d);
    kefu_diag_free(NULL);
}

static void test_oom(void **st)
{
    (void)st;
    for (long budget = 0; budget < 40; budget++) {
        tu_failing_alloc f = {budget, 0};
        kefu_allocator a = tu_failing_allocator(&f);
        kefu_model *m = NULL;
        const char *y = "kefu: 1\nname: x\ntext: {max_bytes: 100}\n";
        int rc = kefu_model_load_buffer(&m, y, strlen(y), "m", NULL, &a, NULL);
        assert_true(rc == KEFU_OK || rc == KEFU_E_NOMEM);
        kefu_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty_and_bad_bytes),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_diag_format),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
