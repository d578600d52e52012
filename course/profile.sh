# /etc/profile.d/twisted-workbook.sh: a login shell (a JupyterLab terminal is one) finds the class's Python,
# twistd, twist, trial, ckeygen and conch first, after Debian's /etc/profile has reset PATH.
case ":$PATH:" in
    *":/opt/twisted-workbook/bin:"*) ;;
    *) PATH="/opt/twisted-workbook/bin:$PATH"; export PATH ;;
esac
