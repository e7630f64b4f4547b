# Rate against concurrency, from the rates.dat that bench/compare.sh writes:
#   gnuplot -e "datafile='bench/results/rates.dat'; outfile='bench/results/rates.png'" bench/plot.gp
# Columns: concurrency, wrk http, acmeva http-01, dnsperf, acmeva dns-01, wrk https,
# acmeva tls-alpn-01 (per second).
if (!exists("datafile")) datafile = 'rates.dat'
if (!exists("outfile")) outfile = 'rates.png'
if (!exists("subtitle")) subtitle = ''

set terminal pngcairo size 1100,650 font ",11"
set output outfile
set title "acmeva against the load generators' limit, same responder, one core each\n".subtitle noenhanced
set xlabel "concurrency (connections / outstanding queries / validations in flight)"
set ylabel "per second"
set logscale x 2
set logscale y 10
set format y "%.0s%c"
set grid xtics ytics mytics
set key outside right top vertical
set style data linespoints

plot datafile using 1:2 title "wrk http, Connection: close" lw 2 pt 7 lc rgb "#1f77b4" dt 2, \
     datafile using 1:3 title "acmeva http-01" lw 2 pt 7 lc rgb "#1f77b4", \
     datafile using 1:4 title "dnsperf TXT" lw 2 pt 5 lc rgb "#2ca02c" dt 2, \
     datafile using 1:5 title "acmeva dns-01" lw 2 pt 5 lc rgb "#2ca02c", \
     datafile using 1:6 title "wrk https, Connection: close" lw 2 pt 9 lc rgb "#d62728" dt 2, \
     datafile using 1:7 title "acmeva tls-alpn-01" lw 2 pt 9 lc rgb "#d62728"
