-- LuaRocks spec for the kefu Lua module (bindings/lua/kefu.c).
-- The rock links against an installed libkefu (`make install` from the
-- checkout, found like any C library: LIBKEFU_DIR, or /usr/local, /usr).
-- The repository's bindings/lua/Makefile instead links libkefu statically
-- into the module, for hosts (nginx workers, Kamailio) that should not
-- depend on a shared libkefu in the loader path.
rockspec_format = "3.0"
package = "kefu"
version = "scm-1"
source = {
   url = "git+file:///work/main",   -- a checkout; replace with the published repository
}
description = {
   summary = "Contact-center triage: intent, entities, emotion, rules, skill-based routing",
   detailed = [[
      Lua binding of libkefu (客服): classify customer messages (intent,
      out-of-scope, entities, missing slots), score emotions, evaluate
      escalation rules with traces, route conversations to agents, Erlang
      C/A staffing.  One C source for Lua 5.1, LuaJIT 2.1 and Lua 5.4.
   ]],
   license = "see the kefu repository",
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
external_dependencies = {
   LIBKEFU = {
      header = "kefu.h",
      library = "kefu",
   },
}
build = {
   type = "builtin",
   modules = {
      kefu = {
         sources = { "bindings/lua/kefu.c" },
         incdirs = { "$(LIBKEFU_INCDIR)" },
         libdirs = { "$(LIBKEFU_LIBDIR)" },
         libraries = { "kefu" },
      },
   },
}
