# RT::Extension::Promptly - promptly's pages in Request Tracker 5.
#
# An RT plugin (this folder is installed as
# $LocalPluginPath/RT-Extension-Promptly by rt-promptly-setup, and
# enabled by its site config snippet 99-promptly.pm): Mason callbacks and
# components under html/ (the SLA box on the ticket page, the SLA column
# of ticket lists, the History rows of SLA events, the admin page, the
# SLA report under Reports), and
# static/ with the badges' style sheet and the countdown script, added to
# every page here; the home-page portlet "SLA: next to breach" and the
# admin page Admin > Tools > promptly.  No file of RT's own is changed.
package RT::Extension::Promptly;
use strict;
use warnings;

our $VERSION = '1.0';

# Reports > SLA (html/Reports/SLA.html): the group SLA Managers gets this
# right from promptly-initialdata.
RT::System->AddRight(Staff => ShowSLAReports => 'See the SLA report (promptly)');

RT->AddStyleSheets('promptly.css');
RT->AddJavaScript('promptly.js');

# The home-page portlet "SLA: next to breach" (html/Elements/
# PromptlyNextToBreach); promptly-initialdata puts it on the home page.
{
  my $allowed = RT->Config->Get('HomepageComponents') || [];
  RT->Config->Set(HomepageComponents => [@$allowed, 'PromptlyNextToBreach'])
    unless grep { $_ eq 'PromptlyNextToBreach' } @$allowed;
}

1;
