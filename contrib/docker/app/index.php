<?php
// The example application: replace app/ with yours. The health checks probe this file.
header('Content-Type: text/plain');
echo "hello from php-cgi under fcgi-spawn, pid " . getmypid() . "\n";
