/* scratch.c - per-thread working memory bound to one model. */
#include "emotion.h"
#include "scratch.h"

#include "entity.h"
#include "redact.h"
#include "intent.h"

KEFU_API int kefu_scratch_new(kefu_scratch **out, const kefu_model *model,
                              const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_scratch *s;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    if (!model)
        return KEFU_E_ARG;
    kefu_mem_init(&mem, alloc ? alloc : &model->alloc);
    s = kefu_zalloc(&mem, sizeof *s);
    if (!s)
        return KEFU_E_NOMEM;
    s->mem = mem;
    s->model = model;
    kefu_diag_init(&s->diag, &mem.a);
    kefu_model_text_init(model, &s->text);
    s->text.mem = mem;
    *out = s;
    return KEFU_OK;
}


KEFU_API void kefu_scratch_free(kefu_scratch *s)
{
    kefu_mem mem;
    if (!s)
        return;
    mem = s->mem;
    kefu_entity_scratch_free(&mem, s->entity);
    kefu_redact_scratch_free(&mem, s->redact);
    kefu_intent_scratch_free(&mem, s->intent);
    kefu_emoclf_scratch_free(&mem, s->emoclf);
    kefu_emotion_scratch_free(s);
    kefu_text_release(&s->text);
    kefu_dealloc(&mem, s);
}

KEFU_API const kefu_diag *kefu_scratch_diag(const kefu_scratch *s)
{
    return s ? &s->diag : NULL;
}

int kefu_scratch_text(kefu_scratch *s, const char *text, size_t len)
{
    int rc;
    if (s->reuse_text && s->text_ptr == text && s->text_len == len && text) {
        kefu_diag_clear(&s->diag);
        return KEFU_OK;
    }
    rc = kefu_text_run(&s->text, text, len);
    s->text_ptr = rc ? NULL : text;
    s->text_len = len;
    if (rc)
        kefu_diag_copy(&s->diag, &s->text.diag);
    else
        kefu_diag_clear(&s->diag);
    return rc;
}
