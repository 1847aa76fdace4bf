#!/bin/sh
# The main job: the kefu command line working through sample customer
# messages with the bundled default model.
cd "$(dirname "$0")/.."
kefu=build/default/bin/kefu
echo "# kefu $($kefu --version | cut -d' ' -f2): text stage on sample messages" >&2
cat <<'MSG' | $kefu text
我的訂單到哪裡了？？ＡＢＣ１２３還沒到！！！
Where is my ORDER #A12345678?? been waiting 3 days 😡
转人工!!! 我要投诉
MSG
