# rt-e2e-report.sh - the support manager's SLA report inside RT 5 (issue
# 13, item 7).  Sourced by run-rt-e2e.sh, which calls report_checks after
# its other checks (RT, rt-promptly and some tickets with ended cycles are
# there; pass/fail, browse, page_json, sql, CLI are its).
#
# Checks: the records rt-promptly stored, exported, give promptly report's
# numbers; Reports > SLA shows the same numbers (the "(all)" row: cycles,
# met, breached, compliance) in headless Chromium (screenshot
# ui-report.png); its CSV download is byte for byte promptly report's CSV
# over the export; a member of staff outside "SLA Managers" is refused,
# and the same person once in the group sees the page.

# web_login USER PASS JAR: a session of RT's web UI in cookie jar JAR.
web_login() {
  curl -s -o /dev/null -c "$3" --data-urlencode "user=$1" \
    --data-urlencode "pass=$2" "$B/NoAuth/Login.html"
}

report_checks() {
  PROMPTLY_RT_DB=$DB perl "$RT_HOST_DIR/rt-promptly" --module "$PROMPTLY_SO" \
    --rules "$RULES" --export-records >"$WORK/records2.jsonl" 2>>"$WORK/export.log" ||
    fail "rt-promptly --export-records failed: $(tail -3 "$WORK/export.log")"
  local want csv_want csv_got n met br comp
  want=$("$CLI" --module "$PROMPTLY_SO" report --records "$WORK/records2.jsonl" \
           --by metric,priority --format json 2>>"$WORK/report.err")
  n=$(jq -r .total.count <<<"$want")
  met=$(jq -r .total.met <<<"$want")
  br=$(jq -r .total.breached <<<"$want")
  comp=$(jq -r 'if .total.compliance == null then "-" else (.total.compliance * 1000 | round / 10 | tostring) + "%" end' <<<"$want")
  # jq prints 50 for 50.0: the page writes one decimal.
  [[ $comp == *.*% || $comp == - ]] || comp=${comp%\%}.0%

  browse "ui-report=/Reports/SLA.html" >"$WORK/ui-report.jsonl" || true
  local text row
  text=$(page_json "$WORK/ui-report.jsonl" ui-report | jq -r .text)
  row=$(grep -E '^\(all\) ' <<<"$text" | head -1)
  if [[ $text == *"cycles recorded"* &&
        $row =~ ^\(all\)\ +$n\ +$met\ +$br\ +[0-9]+\ +${comp//./\\.}( |$) ]]; then
    pass "Reports > SLA shows promptly report's numbers over the stored records: '$row' (screenshot ui-report.png)"
  else
    fail "Reports > SLA: row '$row', want (all) $n $met $br ... $comp; page: $(head -c 300 <<<"$text")"
  fi
  # The page's report part (the iframe's srcdoc, not in the page's text)
  # names RT's records, not the temporary file the page hands to promptly
  # report, and covers every record (not only the last 90 days).
  local src
  src=$(curl -s -b "$COOKIE" -H "Referer: $B/" "$B/Reports/SLA.html")
  if [[ $src == *"RT records: $n cycles in the period"* && $src != *"/tmp/"* ]]; then
    pass "Reports > SLA's report part says 'RT records: $n cycles', no temporary path"
  else
    fail "Reports > SLA's report part: want 'RT records: $n cycles in the period', no /tmp/; got '$(grep -o '[^;>]*cycles in the period[^,]*' <<<"$src" | head -1)'"
  fi

  csv_want=$("$CLI" --module "$PROMPTLY_SO" report --records "$WORK/records2.jsonl" \
               --by metric,priority --format csv 2>>"$WORK/report.err")
  # root's web session (the one the REST calls use), following the page's
  # own "Download CSV" link: with the page as Referer, as a browser sends
  # it (RT answers a GET with arguments and no Referer with its CSRF page).
  curl -s -b "$COOKIE" -H "Referer: $B/Reports/SLA.html" \
    -D "$WORK/report.csv.head" -o "$WORK/report.csv.got" \
    "$B/Reports/SLA.html?Format=csv&From=&To=&Queue="
  csv_got=$(cat "$WORK/report.csv.got")
  if [[ -n $csv_want && $csv_got == "$csv_want" ]] &&
     grep -qi '^content-type: text/csv' "$WORK/report.csv.head"; then
    pass "the page's CSV download is promptly report's CSV over the export ($(grep -c . <<<"$csv_got") lines, text/csv)"
  else
    fail "CSV download differs from promptly report --format csv: got $(grep -i '^content-type' "$WORK/report.csv.head" | tr -d '\r') '$(grep -o '<title>[^<]*\|promptly-report-error[^<]*<\|^[^<].*' "$WORK/report.csv.got" | head -3 | tr '\n' ' ' | cut -c1-300)', want '$(head -c 120 <<<"$csv_want")'"
  fi

  # Staff outside "SLA Managers" are refused; in the group they see it.
  PROMPTLY_RT_DB=$DB perl -I"$RT_LIB" -e '
    use RT; RT::LoadConfig(); RT::Init();
    my $u = RT::User->new(RT->SystemUser);
    $u->Load("manager1");
    unless ($u->id) {
      my ($ok, $m) = $u->Create(Name => "manager1", Privileged => 1,
        EmailAddress => "manager1\@example.com");
      die "$m\n" unless $ok;
    }
    $u->SetPassword($ARGV[0]);' "manager-pass-1" 2>>"$WORK/setup-db.log"
  web_login manager1 manager-pass-1 "$WORK/mgr.jar"
  local before after
  before=$(curl -s -b "$WORK/mgr.jar" "$B/Reports/SLA.html")
  PROMPTLY_RT_DB=$DB perl -I"$RT_LIB" -e '
    use RT; RT::LoadConfig(); RT::Init();
    my $u = RT::User->new(RT->SystemUser); $u->Load("manager1");
    my $g = RT::Group->new(RT->SystemUser); $g->LoadUserDefinedGroup("SLA Managers");
    die "no group SLA Managers\n" unless $g->id;
    $g->AddMember($u->PrincipalId) unless $g->HasMember($u->PrincipalId);' \
    2>>"$WORK/setup-db.log"
  after=$(curl -s -b "$WORK/mgr.jar" "$B/Reports/SLA.html")
  if [[ $before == *"Permission Denied"* && $before != *"cycles recorded"* &&
        $after == *"cycles recorded"* ]]; then
    pass "Reports > SLA: refused to staff outside 'SLA Managers', shown once they are in it"
  else
    fail "Reports > SLA rights: before joining '$(grep -o 'Permission Denied\|cycles recorded' <<<"$before" | head -1)', after '$(grep -o 'Permission Denied\|cycles recorded' <<<"$after" | head -1)'"
  fi
}
