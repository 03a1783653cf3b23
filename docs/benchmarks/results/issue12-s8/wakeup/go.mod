module wakeup

go 1.26
